package main

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/infra/awsaccess"
	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/app/eventwebhooksapp"
	"github.com/kapso-bridge/kapso-bridge/shared/app/ingestapp"
	"github.com/kapso-bridge/kapso-bridge/shared/app/lifecycleapp"
	"github.com/kapso-bridge/kapso-bridge/shared/app/mediaapp"
	"github.com/kapso-bridge/kapso-bridge/shared/app/messagesapp"
	"github.com/kapso-bridge/kapso-bridge/shared/app/outboundapp"
	"github.com/kapso-bridge/kapso-bridge/shared/app/publisherapp"
	"github.com/kapso-bridge/kapso-bridge/shared/app/reconcileapp"
	"github.com/kapso-bridge/kapso-bridge/shared/app/redirectapp"
	"github.com/kapso-bridge/kapso-bridge/shared/app/tenantapiapp"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

const (
	module     = "github.com/kapso-bridge/kapso-bridge"
	moduleRoot = "../.."
)

// adapterDirs hold every type that calls AWS.
var adapterDirs = []string{"shared/dynamo", "shared/sqsqueue", "shared/config/awssecrets", "shared/snstopic", "shared/s3media"}

// wiring starts each function as its main does: its real wiring and real
// clients (building calls no service), with secrets read through src. It
// returns what the wiring built and the clients as main builds them, before
// src replaces their secret source. The HTTP functions are built through
// New, not Handler: Handler's mux routes through closures, and reflection
// cannot see what a closure captured.
var wiring = map[config.Function]func(context.Context, app.Base, config.SecretSource) (built, clients any, err error){
	config.Ingest: func(ctx context.Context, b app.Base, src config.SecretSource) (any, any, error) {
		c := ingestapp.NewClients(b.AWS)
		given := c
		c.Secrets = src
		h, err := ingestapp.New(ctx, b, c)
		return h, given, err
	},
	config.TenantAPI: func(ctx context.Context, b app.Base, src config.SecretSource) (any, any, error) {
		c := tenantapiapp.NewClients(b.AWS)
		given := c
		c.Secrets = src
		h, err := tenantapiapp.New(ctx, b, c)
		return h, given, err
	},
	config.Redirect: func(ctx context.Context, b app.Base, _ config.SecretSource) (any, any, error) {
		c := redirectapp.NewClients(b.AWS)
		h, err := redirectapp.New(ctx, b, c)
		return h, c, err
	},
	config.Lifecycle: func(ctx context.Context, b app.Base, src config.SecretSource) (any, any, error) {
		c := lifecycleapp.NewClients(b.AWS)
		given := c
		c.Secrets = src
		w, err := lifecycleapp.Worker(ctx, b, c)
		return w, given, err
	},
	config.Reconcile: func(ctx context.Context, b app.Base, src config.SecretSource) (any, any, error) {
		c := reconcileapp.NewClients(b.AWS)
		given := c
		c.Secrets = src
		r, err := reconcileapp.Reconciler(ctx, b, c)
		return r, given, err
	},
	config.Messages: func(ctx context.Context, b app.Base, src config.SecretSource) (any, any, error) {
		c := messagesapp.NewClients(b.AWS)
		given := c
		c.Secrets = src
		w, err := messagesapp.Worker(ctx, b, c)
		return w, given, err
	},
	config.Outbound: func(ctx context.Context, b app.Base, src config.SecretSource) (any, any, error) {
		c := outboundapp.NewClients(b.AWS)
		given := c
		c.Secrets = src
		w, err := outboundapp.Worker(ctx, b, c)
		return w, given, err
	},
	config.Publisher: func(ctx context.Context, b app.Base, _ config.SecretSource) (any, any, error) {
		c := publisherapp.NewClients(b.AWS)
		w, err := publisherapp.Worker(ctx, b, c)
		return w, c, err
	},
	config.EventWebhooks: func(ctx context.Context, b app.Base, src config.SecretSource) (any, any, error) {
		c := eventwebhooksapp.NewClients(b.AWS)
		given := c
		c.Secrets = src
		w, err := eventwebhooksapp.Worker(ctx, b, c)
		return w, given, err
	},
	config.Media: func(ctx context.Context, b app.Base, src config.SecretSource) (any, any, error) {
		c := mediaapp.NewClients(b.AWS)
		given := c
		c.Secrets = src
		w, err := mediaapp.Worker(ctx, b, c)
		return w, given, err
	},
}

// capturesNoAdapter are function values, by name, read to capture nothing
// (so no adapter): each with where it is and why.
var capturesNoAdapter = map[string]string{
	module + "/shared/kapsoapi.NewMetaProxy.func1": "the Meta proxy client's http.Client.CheckRedirect " +
		"(shared/kapsoapi/send.go), a literal returning http.ErrUseLastResponse that captures nothing",
	module + "/shared/kapsoapi.newFilesClient.func1": "the media download client's Transport.DialContext " +
		"(shared/kapsoapi/media.go), which captures Kapso's origin and two net.Dialers",
	module + "/shared/kapsoapi.newFilesClient.func2": "the media download client's http.Client.CheckRedirect " +
		"(shared/kapsoapi/media.go), which captures Kapso's origin",
}

// Grants no code calls, by design.
var (
	// Lambda writes each function's logs (to its own group) and traces.
	lambdaGrants = []string{"logs:CreateLogStream", "logs:PutLogEvents"}
	xrayGrants   = []string{"xray:PutTelemetryRecords", "xray:PutTraceSegments"}
	// DataKey encrypts the tables: DynamoDB needs the key to read any of
	// their items, and to make data keys for writing one.
	kmsForReads  = []string{"kms:Decrypt", "kms:DescribeKey"}
	kmsForWrites = []string{"kms:Encrypt", "kms:GenerateDataKey"}
	tableWrites  = []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
	// An event source mapping polls its queue with its function's role
	// (the CDK's SqsEventSource grants): the function's code never calls it.
	eventSourceGrants = []string{"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
		"sqs:GetQueueUrl", "sqs:ReceiveMessage"}
	// So does a table stream's mapping read the stream, whose records the
	// table's key encrypts.
	streamSourceGrants = []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
		"dynamodb:ListStreams"}
	// A topic's key: SNS makes a data key for each message published, and
	// reads it back.
	kmsForPublish = []string{"kms:Decrypt", "kms:GenerateDataKey"}
	// A bucket's key: S3 decrypts an object's data key to read it, and
	// makes one to write it; a multipart upload also decrypts it.
	kmsForObjectReads  = []string{"kms:Decrypt"}
	kmsForObjectWrites = []string{"kms:Decrypt", "kms:GenerateDataKey"}
)

// objectKeys narrows a function's S3 actions to the keys its code writes,
// where the code writes under one prefix only; elsewhere a function acts on
// every object ("*"). Sample is a key the function writes, which the
// pattern must match.
var objectKeys = map[config.Function]struct {
	pattern, sample string
	actions         []string
}{
	// The tenant API writes only the files tenants upload (a failed put
	// aborts or deletes what it began); it reads no object itself.
	config.TenantAPI: {"*/*/uploads/*", media.UploadKey("tenant", "123", "ab12"),
		[]string{"s3:AbortMultipartUpload", "s3:DeleteObject", "s3:PutObject"}},
}

// objectResource is the construct name of the objects of bucket that f's
// action is on: "MediaBucket/*".
func objectResource(f config.Function, bucket schema.Bucket, action string) string {
	keys := "*"
	if k, ok := objectKeys[f]; ok && slices.Contains(k.actions, action) {
		keys = k.pattern
	}
	return pascal(bucket.ID) + "Bucket/" + keys
}

// resources gives every setting a value that names what it stands for, so a
// value found in a built function maps back to its table, queue or secret.
type resources struct {
	vars    map[string]string
	tables  map[string]schema.Table // by name
	queues  map[string]string       // construct name by URL
	topics  map[string]schema.Topic // by ARN
	buckets map[string]schema.Bucket
	secrets map[string]secret      // by ARN
	roles   map[string]assumedRole // by ARN
}

func newResources() resources {
	r := resources{vars: map[string]string{}, tables: map[string]schema.Table{}, queues: map[string]string{},
		topics: map[string]schema.Topic{}, buckets: map[string]schema.Bucket{}, secrets: map[string]secret{},
		roles: map[string]assumedRole{}}
	for _, t := range schema.Tables {
		name := "KapsoBridge-" + pascal(t.ID) + "Table"
		r.vars[t.EnvVar], r.tables[name] = name, t
	}
	for _, q := range schema.Queues {
		for name, env := range map[string]string{pascal(q.ID) + "Queue": q.EnvVar, pascal(q.ID) + "DeadLetterQueue": q.DLQEnvVar()} {
			url := "https://sqs.us-east-1.amazonaws.com/123456789012/KapsoBridge-" + name
			r.vars[env], r.queues[url] = url, name
		}
	}
	for _, t := range schema.Topics {
		arn := "arn:aws:sns:us-east-1:123456789012:KapsoBridge-" + pascal(t.ID) + "Topic"
		r.vars[t.EnvVar], r.topics[arn] = arn, t
	}
	for _, b := range schema.Buckets {
		name := "kapsobridge-" + strings.ToLower(pascal(b.ID)) + "bucket"
		r.vars[b.EnvVar], r.buckets[name] = name, b
	}
	for _, s := range secrets {
		arn := "arn:aws:secretsmanager:us-east-1:123456789012:secret:KapsoBridge/" + s.Name
		r.vars[s.Setting.ARNVar()], r.secrets[arn] = arn, s
	}
	for _, ar := range assumedRoles() {
		arn := "arn:aws:iam::123456789012:role/KapsoBridge-" + ar.ID
		r.vars[ar.Setting.Name], r.roles[arn] = arn, ar
	}
	// A whole number of days, so the functions build their stores with a
	// retention.
	r.vars[config.MessageRetentionDays.Name] = "30"
	for _, s := range config.Settings {
		if _, ok := r.vars[s.Name]; !ok && !s.Secret {
			r.vars[s.Name] = s.Default
			if s.Default == "" {
				r.vars[s.Name] = "https://example.com/" + strings.ToLower(s.Name)
			}
		}
	}
	return r
}

// recordedSecrets answers every secret, in the shape every secret takes (a
// signing secret is whsec_ and base64), and remembers which were read.
type recordedSecrets struct{ arns []string }

func (s *recordedSecrets) SecretValue(_ context.Context, arn string) (string, error) {
	s.arns = append(s.arns, arn)
	return bridgeevents.SecretPrefix + base64.StdEncoding.EncodeToString([]byte("value-of-"+arn)), nil
}

// grants are actions by resource (construct name, "*" for none).
type grants map[string][]string

func (g grants) add(resource string, actions ...string) {
	for _, a := range actions {
		if !slices.Contains(g[resource], a) {
			g[resource] = append(g[resource], a)
			slices.Sort(g[resource])
		}
	}
}

// derivedGrants is what f's code calls, and what comes with it by design:
// the walk of what its real wiring builds, each adapter method its holder
// can call resolved to the AWS operations its source performs, on the
// table it was given or the queues its holder sends to; the secrets it
// reads at start-up; and the fixed grants above.
//
// An adapter that assumes a role (sts:AssumeRole on the role whose ARN it
// holds) performs its other operations with that role's sessions, never
// with its function's role: those are the role's grants, in roles.
func derivedGrants(t *testing.T, as awsaccess.Adapters, f function, roles map[string]grants) grants {
	t.Helper()
	res := newResources()
	read := map[string]bool{}
	env := config.Env(func(k string) string { read[k] = true; return res.vars[k] })
	b := app.Base{Env: env, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), AWS: aws.Config{Region: "us-east-1"}}
	src := &recordedSecrets{}
	start, ok := wiring[f.Name]
	if !ok {
		t.Fatalf("%s has no wiring to start", f.Name)
	}
	built, clients, err := start(context.Background(), b, src)
	if err != nil {
		t.Fatalf("%s does not start: %v", f.Name, err)
	}
	found, err := awsaccess.Walk(built, as)
	if err != nil {
		t.Fatal(err)
	}
	// A function value hides what it captured, adapters included: every
	// adapter a function calls must be reachable through fields.
	for _, fv := range found.Funcs {
		if reason, ok := capturesNoAdapter[fv.Name]; ok {
			t.Logf("%s holds %s at %s: %s", f.Name, fv.Name, fv.Path, reason)
			continue
		}
		t.Errorf("%s holds %s at %s: reflection cannot see what a function value captured; build it so its adapters sit in fields",
			f.Name, fv.Name, fv.Path)
	}
	uses := found.Uses

	fg := grants{}
	for _, u := range uses {
		g := fg
		if slices.Contains(u.Ops, awsaccess.Op{Action: "sts:AssumeRole"}) {
			role, ok := res.roles[stringField(u.Value, "roleARN")]
			if !ok {
				t.Errorf("%s: %s at %s assumes %q, which is no role of the stack", f.Name, u.Adapter, u.Path, stringField(u.Value, "roleARN"))
				continue
			}
			fg.add(role.ID, "sts:AssumeRole")
			if roles[role.ID] == nil {
				roles[role.ID] = grants{}
			}
			g = roles[role.ID]
		}
		for _, op := range u.Ops {
			switch service, _, _ := strings.Cut(op.Action, ":"); service {
			case "sts":
				// Counted above, on the role the adapter holds.
			case "dynamodb":
				table, ok := res.tables[stringField(u.Value, "Table")]
				if !ok {
					t.Errorf("%s: %s at %s is on table %q, which is no schema table", f.Name, u.Adapter, u.Path, stringField(u.Value, "Table"))
					continue
				}
				if op.Index {
					for _, ix := range table.Indexes {
						g.add(pascal(table.ID)+"Table/index/"+ix.Name, op.Action)
					}
				} else {
					g.add(pascal(table.ID)+"Table", op.Action)
				}
				g.add("DataKey", kmsForReads...)
				if slices.Contains(tableWrites, op.Action) {
					g.add("DataKey", kmsForWrites...)
				}
			case "sqs":
				// An adapter that names its queues calls those; one that does
				// not sends to the queues its holder names.
				queues := queuesOf(u.Value, res)
				if len(queues) == 0 {
					queues = queuesOf(u.Holder, res)
				}
				if len(queues) == 0 {
					t.Errorf("%s: %s at %s sends, but its holder %s has no queue URL", f.Name, u.Adapter, u.Path, u.Holder.Type())
				}
				for _, q := range queues {
					g.add(q, op.Action)
				}
			case "sns":
				// An adapter publishes on the topic whose ARN it holds.
				topics := topicsOf(u.Value, res)
				if len(topics) != 1 {
					t.Errorf("%s: %s at %s publishes, but holds %d topic ARNs", f.Name, u.Adapter, u.Path, len(topics))
				}
				for _, tp := range topics {
					g.add(pascal(tp.ID)+"Topic", op.Action)
					g.add(pascal(tp.ID)+"TopicKey", kmsForPublish...)
				}
			case "s3":
				// An adapter acts on the objects of the bucket it names.
				bucket, ok := res.buckets[stringField(u.Value, "bucket")]
				if !ok {
					t.Errorf("%s: %s at %s is on bucket %q, which is no schema bucket", f.Name, u.Adapter, u.Path, stringField(u.Value, "bucket"))
					continue
				}
				g.add(objectResource(f.Name, bucket, op.Action), op.Action)
				switch op.Action {
				case "s3:GetObject":
					g.add(pascal(bucket.ID)+"BucketKey", kmsForObjectReads...)
				case "s3:PutObject":
					g.add(pascal(bucket.ID)+"BucketKey", kmsForObjectWrites...)
				}
			default:
				t.Errorf("%s: %s at %s calls %s, on no resource the check knows", f.Name, u.Adapter, u.Path, op.Action)
			}
		}
	}

	// Secrets are read once, at start-up, through the secret source of the
	// clients the function's main builds.
	var secretOps []awsaccess.Op
	inClients, err := awsaccess.Walk(clients, as)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range inClients.Uses {
		for _, op := range u.Ops {
			if strings.HasPrefix(op.Action, "secretsmanager:") {
				secretOps = append(secretOps, op)
			}
		}
	}
	for _, arn := range src.arns {
		s, ok := res.secrets[arn]
		if !ok || len(secretOps) == 0 {
			t.Errorf("%s reads %s, which is no stack secret or is read through no adapter", f.Name, arn)
			continue
		}
		for _, op := range secretOps {
			fg.add(pascal(s.Name)+"Secret", op.Action)
		}
	}

	// Every table and queue a function reads the setting of, it calls.
	for name := range read {
		for _, tb := range schema.Tables {
			r := pascal(tb.ID) + "Table"
			touched := slices.ContainsFunc(sortedKeys(fg), func(k string) bool { return k == r || strings.HasPrefix(k, r+"/") })
			if name == tb.EnvVar && !touched {
				t.Errorf("%s reads %s but calls nothing on the table", f.Name, name)
			}
		}
		for _, tp := range schema.Topics {
			if name == tp.EnvVar && fg[pascal(tp.ID)+"Topic"] == nil {
				t.Errorf("%s reads %s but publishes nothing on the topic", f.Name, name)
			}
		}
		for _, b := range schema.Buckets {
			r := pascal(b.ID) + "Bucket/"
			if name == b.EnvVar && !slices.ContainsFunc(sortedKeys(fg), func(k string) bool { return strings.HasPrefix(k, r) }) {
				t.Errorf("%s reads %s but calls nothing on the bucket", f.Name, name)
			}
		}
		for _, ar := range assumedRoles() {
			if name == ar.Setting.Name && fg[ar.ID] == nil {
				t.Errorf("%s reads %s but assumes no role through it", f.Name, name)
			}
		}
		for _, q := range schema.Queues {
			if name == q.EnvVar && fg[pascal(q.ID)+"Queue"] == nil {
				t.Errorf("%s reads %s but sends nothing to the queue", f.Name, name)
			}
			if name == q.DLQEnvVar() && fg[pascal(q.ID)+"DeadLetterQueue"] == nil {
				t.Errorf("%s reads %s but calls nothing on the queue", f.Name, name)
			}
		}
	}

	if c := f.Consumes; c != nil {
		fg.add(pascal(c.Queue.ID)+"Queue", eventSourceGrants...)
	}
	if s := f.Stream; s != nil {
		fg.add(pascal(s.Table.ID)+"Table/stream", streamSourceGrants...)
		fg.add("DataKey", kmsForReads...)
	}
	fg.add(pascal(string(f.Name))+"Logs", lambdaGrants...)
	fg.add("*", xrayGrants...)
	return fg
}

// stringField reads a string field, exported or not ("bucket" is also
// "Bucket").
func stringField(v reflect.Value, name string) string {
	for _, n := range []string{name, strings.ToUpper(name[:1]) + name[1:]} {
		if f := v.FieldByName(n); f.IsValid() && f.Kind() == reflect.String {
			return f.String()
		}
	}
	return ""
}

// queuesOf lists the queues (by construct name) whose URLs a struct's
// string fields, or the values of its string maps, carry.
func queuesOf(holder reflect.Value, res resources) []string {
	var out []string
	for holder.Kind() == reflect.Pointer || holder.Kind() == reflect.Interface {
		holder = holder.Elem()
	}
	if holder.Kind() != reflect.Struct {
		return nil
	}
	add := func(v reflect.Value) {
		if q, ok := res.queues[v.String()]; ok {
			out = append(out, q)
		}
	}
	for i := range holder.NumField() {
		switch f := holder.Field(i); {
		case f.Kind() == reflect.String:
			add(f)
		case f.Kind() == reflect.Map && f.Type().Elem().Kind() == reflect.String:
			for _, k := range f.MapKeys() {
				add(f.MapIndex(k))
			}
		}
	}
	return out
}

// topicsOf lists the topics whose ARNs a struct's string fields carry.
func topicsOf(v reflect.Value, res resources) []schema.Topic {
	var out []schema.Topic
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.String {
			if tp, ok := res.topics[f.String()]; ok {
				out = append(out, tp)
			}
		}
	}
	return out
}

// Each role grants exactly what its function's code calls, on exactly the
// resources it calls it on, plus the fixed grants above: a surplus grant
// and a missing one both fail.
func TestRolesGrantExactlyWhatTheCodeCalls(t *testing.T) {
	as, err := awsaccess.Load(moduleRoot, adapterDirs...)
	if err != nil {
		t.Fatal(err)
	}
	compare := func(role string, want grants) {
		got := policyGrants(t, role)
		for _, r := range sortedKeys(want) {
			t.Logf("%s %s: %s", role, r, strings.Join(want[r], " "))
		}
		for _, r := range sortedKeys(merge(got, want)) {
			if surplus := minus(got[r], want[r]); len(surplus) > 0 {
				t.Errorf("%s grants %v on %s, which its code never calls", role, surplus, r)
			}
			if missing := minus(want[r], got[r]); len(missing) > 0 {
				t.Errorf("%s lacks %v on %s, which its code calls", role, missing, r)
			}
		}
	}
	roles := map[string]grants{}
	for _, f := range functions {
		compare(pascal(string(f.Name))+"Role", derivedGrants(t, as, f, roles))
	}
	// Each assumed role grants exactly what its sessions are used for.
	for _, ar := range assumedRoles() {
		compare(ar.ID, roles[ar.ID])
	}
}

// assumedRoles are the roles the functions assume.
func assumedRoles() []assumedRole {
	var out []assumedRole
	for _, f := range functions {
		for _, a := range f.Access {
			if a.Role != nil {
				out = append(out, *a.Role)
			}
		}
	}
	return out
}

func merge(a, b map[string][]string) map[string][]string {
	out := map[string][]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = append(out[k], v...)
	}
	return out
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Each narrowed key pattern matches the keys its function writes, as IAM
// matches them (a * spans slashes), and not the media worker's keys.
func TestObjectKeysNarrowToWhatTheCodeWrites(t *testing.T) {
	for f, k := range objectKeys {
		match := regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(k.pattern), `\*`, ".*") + "$")
		if !match.MatchString(k.sample) {
			t.Errorf("%s writes %s, which its pattern %s does not match", f, k.sample, k.pattern)
		}
		if other := media.ObjectKey("tenant", "123", "4567"); match.MatchString(other) {
			t.Errorf("%s's pattern %s matches a message's media key %s", f, k.pattern, other)
		}
	}
}
