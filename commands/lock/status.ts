import {lockCommand} from './_command.js'

export default lockCommand('status', 'Show who holds the deploy lock of ENV.')
