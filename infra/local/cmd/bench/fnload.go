package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kapso-bridge/kapso-bridge/infra/local/runtimeapi"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/routes"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
)

// lambdaProcess is one real function binary serving a local Runtime API.
type lambdaProcess struct {
	api *runtimeapi.Server
	cmd *exec.Cmd
}

// startFunction builds functions/<name> for this machine, as make build
// does for Lambda, and starts it with the environment Lambda would give it:
// its settings from the local stack, AWS pointed at the local services.
func (l *loader) startFunction(ctx context.Context, dir, name string, memoryMB int, override map[string]string) (*lambdaProcess, error) {
	bin := filepath.Join(dir, name, "bootstrap")
	if _, err := os.Stat(bin); err != nil { // built once a directory
		build := exec.CommandContext(ctx, "go", "build", "-buildvcs=false", "-tags", "lambda.norpc", "-trimpath",
			"-ldflags=-s -w -buildid=", "-o", bin, "./functions/"+name)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build %s: %w: %s", name, err, out)
		}
	}
	arn := "arn:aws:lambda:us-east-1:123456789012:function:kapso-bridge-" + name
	api, err := runtimeapi.Start(runtimeapi.Config{FunctionARN: arn})
	if err != nil {
		return nil, err
	}
	awsDir := filepath.Join(dir, "aws")
	_ = os.MkdirAll(awsDir, 0o755)
	for _, f := range []string{"config", "credentials"} {
		_ = os.WriteFile(filepath.Join(awsDir, f), nil, 0o644)
	}
	env := []string{
		"AWS_LAMBDA_RUNTIME_API=" + api.Addr(),
		"AWS_LAMBDA_FUNCTION_NAME=kapso-bridge-" + name, "AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(memoryMB), "LAMBDA_TASK_ROOT=" + filepath.Dir(bin),
		"_HANDLER=bootstrap", "AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local",
		"AWS_ENDPOINT_URL_DYNAMODB=" + l.s.Services.DynamoDBEndpoint, "AWS_ENDPOINT_URL_SQS=" + l.s.Services.SQSEndpoint,
		// fauxqs serves S3 too.
		"AWS_ENDPOINT_URL_S3=" + l.s.Services.SQSEndpoint,
		"AWS_CONFIG_FILE=" + filepath.Join(awsDir, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(awsDir, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	}
	for _, s := range config.ReadBy(config.Function(name)) {
		v := l.s.Env(s.Name)
		if o, ok := override[s.Name]; ok {
			v = o
		}
		if v != "" {
			env = append(env, s.Name+"="+v)
		}
	}
	cmd := exec.Command(bin)
	cmd.Env, cmd.Dir = env, filepath.Dir(bin)
	cmd.Stdout, cmd.Stderr = &tailWriter{}, &tailWriter{}
	if err := cmd.Start(); err != nil {
		api.Close()
		return nil, err
	}
	return &lambdaProcess{api: api, cmd: cmd}, nil
}

// stop reads the process's peak resident set (VmHWM) and ends it.
func (p *lambdaProcess) stop() int64 {
	rss := peakRSS(p.cmd.Process.Pid)
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	p.api.Close()
	return rss
}

// peakRSS is VmHWM of a live process in bytes; 0 where /proc has none.
func peakRSS(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

type tailWriter struct{ last []byte }

func (t *tailWriter) Write(p []byte) (int, error) {
	t.last = append(t.last[:0], p[max(0, len(p)-2048):]...)
	return len(p), nil
}

// numberWebhookEvent is the API Gateway HTTP API (payload 2.0) event of one
// delivery to the number's webhook.
func (l *loader) numberWebhookEvent(d delivery) []byte {
	path := "/webhooks/kapso/" + l.number
	headers := map[string]string{"content-type": "application/json", "x-webhook-event": "whatsapp.message.received",
		"x-webhook-signature": d.sig, "x-idempotency-key": d.key, "x-webhook-payload-version": l.hook.version,
		"content-length": strconv.Itoa(len(d.body)), "host": "abc123def4.execute-api.us-east-1.amazonaws.com"}
	now := time.Now()
	b, _ := json.Marshal(events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: routes.NumberWebhook.Pattern(), RawPath: path, Headers: headers,
		PathParameters: map[string]string{routes.PhoneNumberID: l.number}, Body: string(d.body),
		RequestContext: events.APIGatewayV2HTTPRequestContext{RouteKey: routes.NumberWebhook.Pattern(), Stage: "$default",
			RequestID: d.key, APIID: "abc123def4", Time: now.Format("02/Jan/2006:15:04:05 -0700"), TimeEpoch: now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: path, Protocol: "HTTP/1.1",
				SourceIP: "203.0.113.10", UserAgent: "Kapso-Webhooks"}},
	})
	return b
}

// functions runs the ingest binary for o.Invocations deliveries, one after
// another as one Lambda instance takes them, sending to a queue of its own;
// then the messages worker binary on that queue in batches of up to 10, as
// the event source mapping would. Each one's peak RSS is read at the end.
func (l *loader) functions(ctx context.Context, c awsClients, o loadOptions) ([]functionLoad, error) {
	dir, err := os.MkdirTemp("", "kapso-bridge-load-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	q, err := sqsqueue.CreateQueue(ctx, c.q, schema.Messages, "kb-bench-"+l.run+"-")
	if err != nil {
		return nil, err
	}
	ingest, err := l.startFunction(ctx, dir, string(config.Ingest), ingestMemoryMB,
		map[string]string{config.MessagesQueueURL.Name: q.URL})
	if err != nil {
		return nil, err
	}
	in := functionLoad{Name: string(config.Ingest)}
	var durs []float64
	var billed float64
	for i := range o.Invocations {
		d := l.delivery("fn", i)
		r, err := ingest.api.Invoke(ctx, l.numberWebhookEvent(d))
		if err == nil && r.Err != nil {
			err = r.Err
		}
		if err == nil {
			var res events.APIGatewayV2HTTPResponse
			if err = json.Unmarshal(r.Body, &res); err == nil && res.StatusCode != 200 {
				err = fmt.Errorf("answered %d: %s", res.StatusCode, res.Body)
			}
		}
		if err != nil {
			ingest.stop()
			return nil, fmt.Errorf("ingest binary, invocation %d: %w", i, err)
		}
		ms := float64(r.AnsweredAt.Sub(r.TakenAt).Microseconds()) / 1e3
		durs = append(durs, ms)
		billed += billedMs(ms)
	}
	in.PeakRSS = ingest.stop()
	in.Invocations, in.Events, in.DurationMs = len(durs), len(durs), distOf(durs)
	in.BilledMs, in.EventsPerIn = billed/float64(len(durs)), 1

	worker, err := l.startFunction(ctx, dir, string(config.Messages), messagesMemoryMB, nil)
	if err != nil {
		return nil, err
	}
	wk := functionLoad{Name: string(config.Messages)}
	durs, billed = nil, 0
	var handledEvents int
	p := &sqsqueue.Poller{Client: c.q, QueueURL: q.URL, BatchSize: 10, Timeout: schema.Messages.ConsumerTimeout,
		Handler: func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			payload, _ := json.Marshal(ev)
			r, err := worker.api.Invoke(ctx, payload)
			if err != nil {
				return events.SQSEventResponse{}, err
			}
			if r.Err != nil {
				return events.SQSEventResponse{}, r.Err
			}
			var res events.SQSEventResponse
			if err := json.Unmarshal(r.Body, &res); err != nil {
				return res, err
			}
			ms := float64(r.AnsweredAt.Sub(r.TakenAt).Microseconds()) / 1e3
			durs = append(durs, ms)
			billed += billedMs(ms)
			handledEvents += len(ev.Records)
			return res, nil
		}}
	deadline := time.Now().Add(5 * time.Minute)
	for handled := 0; handled < o.Invocations; {
		n, err := p.Once(ctx, 1)
		if err != nil || time.Now().After(deadline) {
			worker.stop()
			return nil, fmt.Errorf("messages binary: %d of %d handled: %v", handled, o.Invocations, err)
		}
		handled += n
	}
	wk.PeakRSS = worker.stop()
	wk.Invocations, wk.Events, wk.DurationMs = len(durs), handledEvents, distOf(durs)
	if len(durs) > 0 {
		wk.BilledMs, wk.EventsPerIn = billed/float64(len(durs)), float64(handledEvents)/float64(len(durs))
	}
	for _, u := range []string{q.URL, q.DLQURL} {
		_, _ = c.q.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(u)})
	}
	return []functionLoad{in, wk}, nil
}
