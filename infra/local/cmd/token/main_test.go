package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/infra/local/devstate"
	"github.com/kapso-bridge/kapso-bridge/shared/access"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// devStack is a make dev's state file for port, naming fresh tables on
// DynamoDB Local, and the bridge table's store.
func devStack(t *testing.T, port string) (dir string, store *dynamo.Tokens) {
	tables := awstest.Tables(t)
	dir = t.TempDir()
	if err := devstate.Write(dir, devstate.State{PID: os.Getpid(), Port: port, URL: "http://127.0.0.1:" + port,
		DynamoDBEndpoint: os.Getenv(awstest.EnvDynamoDB), Tables: tables}); err != nil {
		t.Fatal(err)
	}
	return dir, &dynamo.Tokens{DB: awstest.DynamoDB(t), Table: tables[schema.Bridge.ID]}
}

// make token against the make dev of PORT: a token made, listed without
// its secret, found by its secret's hash, then revoked by its name.
func TestTokensInMakeDev(t *testing.T) {
	ctx := context.Background()
	dir, store := devStack(t, "18090")
	env := func(k string) string { return map[string]string{"PORT": "18090"}[k] }
	do := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, args, env, dir, &out)
		return out.String(), err
	}
	out, err := do("-name", "ci", "-scopes", "send,read")
	if err != nil {
		t.Fatal(err)
	}
	secret := regexp.MustCompile(`kb_[A-Za-z0-9_-]{43}`).FindString(out)
	h, perr := access.Parse(secret)
	if perr != nil || !strings.Contains(out, "token ci (read,send) made in make dev with PORT=18090") {
		t.Fatalf("create printed %q", out)
	}
	tok, ok, err := store.TokenByHash(ctx, h)
	if err != nil || !ok || tok.Name != "ci" || !tok.Allows(access.Send) || tok.Allows(access.Onboard) {
		t.Fatalf("stored: %+v %v %v", tok, ok, err)
	}
	if _, err := do("-name", "ops", "-scopes", "admin"); err != nil {
		t.Fatal(err)
	}
	out, err = do("-action", "list")
	if err != nil || strings.Contains(out, "kb_") || !regexp.MustCompile(`(?m)^ci +read,send +\S+Z +-$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^ops +admin `).MatchString(out) || !strings.HasPrefix(out, "2 token(s)") {
		t.Fatalf("list: %v %q", err, out)
	}
	out, err = do("-action", "revoke", "-name", "ci")
	if err != nil || !strings.HasPrefix(out, "revoked 1 token(s) named ci") {
		t.Fatalf("revoke: %v %q", err, out)
	}
	if tok, _, _ := store.TokenByHash(ctx, h); !tok.Revoked() {
		t.Fatal("not revoked")
	}
	out, _ = do("-action", "list")
	if regexp.MustCompile(`(?m)^ci .* -$`).MatchString(out) || !regexp.MustCompile(`(?m)^ops .* -$`).MatchString(out) {
		t.Fatalf("list after revoke: %q", out)
	}
}

// Bad arguments are refused before anything is written, each said.
func TestBadArguments(t *testing.T) {
	dir, store := devStack(t, "18091")
	env := func(k string) string { return map[string]string{"PORT": "18091"}[k] }
	for args, want := range map[string]string{
		"-name ci":                      "create needs NAME and SCOPES",
		"-scopes read":                  "create needs NAME and SCOPES",
		"-name ci -scopes write":        `"write" is not one of`,
		"-name c#i -scopes read":        `NAME "c#i"`,
		"-action revoke":                "revoke needs NAME",
		"-action list -name ci":         "list takes no NAME",
		"-action rotate -name ci":       `ACTION "rotate"`,
		"-name ci -scopes read extra":   `unexpected "extra"`,
		"-name ci -scopes read,read":    "given twice",
		"-action revoke -name ci -x 1":  "flag provided but not defined",
		"-action revoke -name ci -aws=": "invalid boolean",
	} {
		var out bytes.Buffer
		err := run(context.Background(), strings.Fields(args), env, dir, &out)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", args, err, want)
		}
	}
	if list, err := store.ListTokens(context.Background()); err != nil || len(list) != 0 {
		t.Fatalf("refused commands stored %v %v", list, err)
	}
	// No make dev on the port: said so.
	err := run(context.Background(), []string{"-action", "list"}, func(string) string { return "18092" }, dir, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "no make dev runs with PORT=18092") {
		t.Errorf("no make dev: %v", err)
	}
}
