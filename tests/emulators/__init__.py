"""Provider emulators for the test suite: real HTTP on loopback, real wire shapes.

- ``server``           EmulatorServer: a threaded HTTP server with request log and fault knobs
- ``tokens``           TokenRegistry: access / refresh tokens shared by the OAuth and API emulators
- ``oauth``            Google's authorize / token / revoke endpoints and the Microsoft identity
                       platform v2.0 (OpenID discovery, authorize, token), over HTTPS
- ``gmail``            Gmail API v1 (labels, messages, batch, history, send, modify)
- ``graph``            Microsoft Graph v1.0 mail (mailFolders, delta, $batch, sendMail, upload)

They exist for the tests; users never talk to them.
"""
