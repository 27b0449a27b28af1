import {lockCommand} from './_command.js'

export default lockCommand('release', 'Release the deploy lock of ENV (--force when someone else holds it).')
