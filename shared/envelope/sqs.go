package envelope

import (
	"strconv"
	"time"
)

// SentAt is when SQS took a message in, from its attributes (a Lambda
// event's or a ReceiveMessage answer's): the only time a message in no
// known format has. Zero when SQS did not say.
func SentAt(attributes map[string]string) time.Time {
	ms, err := strconv.ParseInt(attributes["SentTimestamp"], 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
