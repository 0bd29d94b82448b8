// Command token makes, revokes and lists the /v1 API's named tokens:
// make token.
//
//	go run ./infra/local/cmd/token -name ci -scopes read,send   # a new token; its secret printed once
//	go run ./infra/local/cmd/token -action revoke -name ci      # every token of the name
//	go run ./infra/local/cmd/token -action list                 # names, scopes, times; never secrets
//
// By default it writes to the bridge table of the make dev running with
// $PORT (8080 unless set), found through its state file
// (infra/local/devstate). With -aws it uses the usual AWS credentials and
// region and the deployed stack's bridge table: $BRIDGE_TABLE when set,
// else the one table named <STACK_NAME>-BridgeTable….
package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kapso-bridge/kapso-bridge/infra/local/devstate"
	"github.com/kapso-bridge/kapso-bridge/shared/access"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

func main() {
	stateDir, _ := devstate.Dir() // outside the repository only -aws works; run says so
	if err := run(context.Background(), os.Args[1:], os.Getenv, stateDir, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "token:", err)
		os.Exit(1)
	}
}

const usage = "usage: token [-action create] -name NAME -scopes read,send,onboard,erase,admin | -action revoke -name NAME | -action list; [-aws [-stack NAME]]"

func run(ctx context.Context, args []string, getenv func(string) string, stateDir string, out io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	action := fs.String("action", "create", "create, revoke or list")
	name := fs.String("name", "", "the token's name (create, revoke)")
	scopes := fs.String("scopes", "", "with create: the scopes, comma-separated")
	useAWS := fs.Bool("aws", false, "the deployed stack's table, with the usual AWS credentials and region")
	stack := fs.String("stack", cmp.Or(getenv(config.StackName.Name), config.StackName.Default), "with -aws: the CloudFormation stack name")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w\n%s", err, usage)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected %q\n%s", fs.Arg(0), usage)
	}
	switch *action {
	case "create":
		if *name == "" || *scopes == "" {
			return errors.New("create needs NAME and SCOPES (make token NAME=ci SCOPES=read,send)")
		}
	case "revoke":
		if *name == "" || *scopes != "" {
			return errors.New("revoke needs NAME and no SCOPES (make token NAME=ci ACTION=revoke)")
		}
	case "list":
		if *name != "" || *scopes != "" {
			return errors.New("list takes no NAME or SCOPES (make token ACTION=list)")
		}
	default:
		return fmt.Errorf("ACTION %q: want create, revoke or list", *action)
	}
	if *name != "" && !access.ValidName(*name) {
		return fmt.Errorf("NAME %q: want 1 to %d characters of A-Z a-z 0-9 . _ -, the first a letter or digit", *name, access.MaxNameChars)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	store, where, err := open(ctx, *useAWS, *stack, getenv, stateDir)
	if err != nil {
		return err
	}
	switch *action {
	case "create":
		return create(ctx, store, where, *name, *scopes, out)
	case "revoke":
		n, err := store.RevokeTokens(ctx, *name, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "revoked %d token(s) named %s in %s; a running API may take them for up to %s more\n",
			n, *name, where, time.Minute)
		return nil
	}
	return list(ctx, store, where, out)
}

// open is the token store of make dev, or with useAWS the deployed stack's,
// and a word on where it is.
func open(ctx context.Context, useAWS bool, stack string, getenv func(string) string, stateDir string) (*dynamo.Tokens, string, error) {
	if useAWS {
		cfg, err := config.AWS(ctx)
		if err != nil {
			return nil, "", err
		}
		if cfg.Region == "" {
			return nil, "", errors.New("no AWS region: set AWS_REGION or a profile's region")
		}
		db := dynamodb.NewFromConfig(cfg)
		table := getenv(schema.Bridge.EnvVar)
		if table == "" {
			if table, err = findTable(ctx, db, stack+"-"+"BridgeTable"); err != nil {
				return nil, "", err
			}
		}
		return &dynamo.Tokens{DB: db, Table: table}, "AWS " + cfg.Region + " table " + table, nil
	}
	if stateDir == "" {
		return nil, "", errors.New("cannot find make dev outside the kapso-bridge repository: give -aws")
	}
	st, err := devstate.Find(stateDir, getenv("PORT"))
	if err != nil {
		return nil, "", err
	}
	table := st.Tables[schema.Bridge.ID]
	if st.DynamoDBEndpoint == "" || table == "" {
		return nil, "", fmt.Errorf("the make dev with PORT=%s names no DynamoDB table: restart it", st.Port)
	}
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(st.DynamoDBEndpoint) })
	return &dynamo.Tokens{DB: db, Table: table}, "make dev with PORT=" + st.Port, nil
}

// findTable is the one table whose name starts with prefix.
func findTable(ctx context.Context, db *dynamodb.Client, prefix string) (string, error) {
	var found []string
	p := dynamodb.NewListTablesPaginator(db, &dynamodb.ListTablesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("list tables: %w", err)
		}
		for _, t := range page.TableNames {
			if strings.HasPrefix(t, prefix) {
				found = append(found, t)
			}
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", fmt.Errorf("no table named %s* in this account and region: check STACK_NAME and AWS_REGION, or set %s", prefix, schema.Bridge.EnvVar)
	}
	return "", fmt.Errorf("%d tables named %s* (%s): set %s", len(found), prefix, strings.Join(found, ", "), schema.Bridge.EnvVar)
}

func create(ctx context.Context, store access.Store, where, name, scopeList string, out io.Writer) error {
	scopes, err := access.ParseScopes(scopeList)
	if err != nil {
		return err
	}
	secret, h, err := access.NewSecret(rand.Reader)
	if err != nil {
		return err
	}
	tok := access.Token{Name: name, Scopes: scopes, CreatedAt: time.Now().UTC()}
	if err := store.CreateToken(ctx, h, tok); err != nil {
		return err
	}
	fmt.Fprintf(out, "token %s (%s) made in %s; its secret, shown this once:\n%s\n", name, joinScopes(scopes), where, secret)
	return nil
}

func list(ctx context.Context, store access.Store, where string, out io.Writer) error {
	tokens, err := store.ListTokens(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%d token(s) in %s\n", len(tokens), where)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSCOPES\tCREATED\tREVOKED")
	for _, t := range tokens {
		revoked := "-"
		if t.Revoked() {
			revoked = t.RevokedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, joinScopes(t.Scopes), t.CreatedAt.UTC().Format(time.RFC3339), revoked)
	}
	return tw.Flush()
}

func joinScopes(s []access.Scope) string {
	names := make([]string, len(s))
	for i, x := range s {
		names[i] = string(x)
	}
	return strings.Join(names, ",")
}
