import {lockCommand} from './_command.js'

export default lockCommand('acquire', 'Take the deploy lock of ENV by hand (deploys exit 3 until it is released).')
