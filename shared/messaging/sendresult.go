package messaging

// What the sender gets from Kapso's Meta proxy. A send that fails is an
// error whose errs code says what became of the message:
//   - errs.OutcomeUnknown: it may have been sent; it is never sent again
//     blindly, but looked for in Kapso's list;
//   - errs.Unprocessable: refused for good (a SendRefusal in the chain
//     says why); sending it again fails the same way;
//   - any other: not sent, and it may go again later (errs.RateLimited
//     and errs.Unavailable, after the RetryAfter when set; a SendRefusal
//     in the chain when Kapso or Meta answered).

// SendResult is what Kapso answered to a send it accepted.
type SendResult struct {
	WAMID         string // the key of the message's later status webhooks
	MessageStatus string // e.g. "accepted", when Kapso says
	WAID          string // the recipient's WhatsApp id, when Kapso says
	UserID        string // the recipient's BSUID, when Kapso says
	Input         string // the recipient as sent, when Kapso says
}

// SendRefusal is Kapso's or Meta's answer refusing a send: nothing was
// sent. Reason is WhatsApp's error as a failed message records it.
type SendRefusal struct {
	Reason StatusError
	Err    error // the answer, for logs
}

func (e *SendRefusal) Error() string {
	if e.Err == nil {
		return "send refused: " + e.Reason.Message
	}
	return e.Err.Error()
}

func (e *SendRefusal) Unwrap() error { return e.Err }
