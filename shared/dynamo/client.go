package dynamo

import "time"

// defaultWait bounds table-creation waits in the local stack.
const defaultWait = 30 * time.Second
