// Command withservices starts DynamoDB Local and fauxqs, runs a command with
// their endpoints in the environment, and stops them after. make test runs
// the whole go test ./... under one pair of servers this way.
//
//	go run ./infra/local/cmd/withservices -- go test ./...
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/kapso-bridge/kapso-bridge/infra/local/services"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
)

func main() {
	os.Exit(run())
}

func run() int {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: withservices -- command [args...]")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	log, err := os.CreateTemp("", "kapso-bridge-services-*.log")
	if err != nil {
		fmt.Fprintln(os.Stderr, "withservices:", err)
		cancel()
		return 1
	}
	svc, err := services.Start(startCtx, services.Options{Log: log})
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "withservices: %v (server log: %s)\n", err, log.Name())
		return 1
	}
	defer svc.Stop()
	fmt.Fprintf(os.Stderr, "withservices: dynamodb %s, sqs %s (log %s)\n", svc.DynamoDBEndpoint, svc.SQSEndpoint, log.Name())

	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), awstest.EnvDynamoDB+"="+svc.DynamoDBEndpoint, awstest.EnvSQS+"="+svc.SQSEndpoint)
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "withservices:", err)
		return 1
	}
	return 0
}
