// Command media is the Lambda consuming the media queue: it copies each
// received message's media from Kapso into the media bucket once, records
// it on the message, and holds back a failed copy until its next attempt,
// reporting partial batch failures.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/app/mediaapp"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
)

func main() {
	ctx, b := app.Boot(config.Media)
	w, err := mediaapp.Worker(ctx, b, mediaapp.NewClients(b.AWS))
	if err != nil {
		app.Fail(b, err)
	}
	lambda.Start(w.Handle)
}
