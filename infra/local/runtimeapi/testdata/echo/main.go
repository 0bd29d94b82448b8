// Command echo is a Lambda function for the runtime api tests: it answers
// what it was sent and what its context says, fails when asked to, and posts
// an init error instead of starting when ECHO_INIT_ERROR is set.
package main

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type request struct {
	Echo string `json:"echo"`
	Fail string `json:"fail"`
}

type response struct {
	Echo        string `json:"echo"`
	RequestID   string `json:"request_id"`
	FunctionARN string `json:"function_arn"`
	DeadlineMS  int64  `json:"deadline_ms"`
	TraceID     string `json:"trace_id"`
}

func main() {
	if msg := os.Getenv("ECHO_INIT_ERROR"); msg != "" {
		// aws-lambda-go has no call for this, so it is posted by hand.
		body := `{"errorType":"Echo.InitFailed","errorMessage":"` + msg + `"}`
		res, err := http.Post("http://"+os.Getenv("AWS_LAMBDA_RUNTIME_API")+"/2018-06-01/runtime/init/error",
			"application/json", strings.NewReader(body))
		if err == nil {
			_ = res.Body.Close()
		}
		os.Exit(1)
	}
	lambda.Start(func(ctx context.Context, in request) (response, error) {
		if in.Fail != "" {
			return response{}, errors.New(in.Fail)
		}
		lc, _ := lambdacontext.FromContext(ctx)
		deadline, _ := ctx.Deadline()
		return response{Echo: in.Echo, RequestID: lc.AwsRequestID, FunctionARN: lc.InvokedFunctionArn,
			DeadlineMS: deadline.UnixMilli(), TraceID: os.Getenv("_X_AMZN_TRACE_ID")}, nil
	})
}
