// Command messages is the Lambda consuming the messages queue, reporting
// partial batch failures.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/app/messagesapp"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
)

func main() {
	ctx, b := app.Boot(config.Messages)
	w, err := messagesapp.Worker(ctx, b, messagesapp.NewClients(b.AWS))
	if err != nil {
		app.Fail(b, err)
	}
	lambda.Start(w.Handle)
}
