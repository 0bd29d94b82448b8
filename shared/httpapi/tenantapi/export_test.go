package tenantapi

// ParseSendRequest is the send body's reader, for the fuzz test to read an
// accepted body as the handler did.
var ParseSendRequest = parseSendRequest
