package main

import (
	"encoding/json"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"github.com/kapso-bridge/kapso-bridge/shared/routes"
)

// accessLogFields is the HTTP API access log line, one JSON object per
// request. Query strings are left out: the redirects carry Kapso's parameters.
var accessLogFields = map[string]string{
	"requestId":          "$context.requestId",
	"requestTime":        "$context.requestTime",
	"ip":                 "$context.identity.sourceIp",
	"userAgent":          "$context.identity.userAgent",
	"routeKey":           "$context.routeKey",
	"path":               "$context.path",
	"protocol":           "$context.protocol",
	"status":             "$context.status",
	"responseLength":     "$context.responseLength",
	"responseLatency":    "$context.responseLatency",
	"integrationStatus":  "$context.integrationStatus",
	"integrationLatency": "$context.integrationLatency",
	"integrationError":   "$context.integrationErrorMessage",
	"error":              "$context.error.message",
}

// stageName is the HTTP API's default stage: served at the root of the endpoint.
const stageName = "$default"

// addAPI builds the HTTP API and its default stage. Routes are added by each
// function; there is no $default route, so any other request gets API
// Gateway's 404 without invoking anything.
func (b *bridge) addAPI() {
	b.api = awsapigatewayv2.NewHttpApi(b.stack, jsii.String("Api"), &awsapigatewayv2.HttpApiProps{
		ApiName:            b.stack.StackName(),
		Description:        jsii.String("kapso-bridge: Kapso webhooks, setup redirects and the tenant API"),
		CreateDefaultStage: jsii.Bool(false),
	})
	logGroup := awslogs.NewLogGroup(b.stack, jsii.String("ApiAccessLogs"), &awslogs.LogGroupProps{
		Retention: retentionDays[b.settings.LogRetentionDays],
	})
	format, err := json.Marshal(accessLogFields)
	if err != nil {
		panic(err)
	}
	b.stage = awsapigatewayv2.NewHttpStage(b.stack, jsii.String("ApiDefaultStage"), &awsapigatewayv2.HttpStageProps{
		HttpApi:    b.api,
		StageName:  jsii.String(stageName),
		AutoDeploy: jsii.Bool(true),
		// Caps what a flood (or a misbehaving client) can cost in Lambda and
		// DynamoDB; Kapso retries deliveries that get 429. This is /v1's;
		// the webhook and redirect routes have their own (throttleRoutes).
		Throttle: &awsapigatewayv2.ThrottleSettings{
			RateLimit:  jsii.Number(b.settings.APIThrottleRate),
			BurstLimit: jsii.Number(b.settings.APIThrottleBurst),
		},
		AccessLogSettings: &accessLogSettings{
			destination: awsapigatewayv2.NewLogGroupLogDestination(logGroup),
			format:      awsapigateway.AccessLogFormat_Custom(jsii.String(string(format))),
		},
	})
	b.baseURL = b.api.ApiEndpoint()
	if b.settings.PublicBaseURL != "" {
		b.baseURL = jsii.String(b.settings.PublicBaseURL)
	}
}

// addRoutes puts a function behind its routes, one integration for all of
// them. The webhook and redirect routes get their own throttle.
func (b *bridge) addRoutes(f function) {
	if len(f.Routes) == 0 {
		return
	}
	integration := awsapigatewayv2integrations.NewHttpLambdaIntegration(
		jsii.String(pascal(string(f.Name))+"Integration"), b.functions[f.Name], nil)
	for _, route := range f.Routes {
		opts := &awsapigatewayv2.AddRoutesOptions{
			Path:        jsii.String(route.Path),
			Methods:     &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod(route.Method)},
			Integration: integration,
		}
		if b.settings.APIIAMAuth && slices.Contains(routes.TenantAPI, route) {
			// Only a caller whose IAM identity may execute-api:Invoke
			// the route gets through, signing with SigV4; the bearer
			// token is still needed.
			opts.Authorizer = awsapigatewayv2authorizers.NewHttpIamAuthorizer()
		}
		added := b.api.AddRoutes(opts)
		if slices.Contains(routes.Ingest, route) || slices.Contains(routes.Redirects, route) {
			b.throttleRoute(route, added)
		}
	}
}

// throttleRoute gives route the webhook throttle: a route setting of the
// stage, which CloudFormation refuses for a route not made yet, hence the
// dependency.
func (b *bridge) throttleRoute(route routes.Route, added *[]awsapigatewayv2.HttpRoute) {
	stage := b.stage.Node().DefaultChild().(awsapigatewayv2.CfnStage)
	stage.AddPropertyOverride(jsii.String("RouteSettings."+route.Pattern()), map[string]any{
		"ThrottlingRateLimit":  b.settings.WebhookThrottleRate,
		"ThrottlingBurstLimit": b.settings.WebhookThrottleBurst,
	})
	for _, r := range *added {
		stage.Node().AddDependency(r)
	}
}

// accessLogSettings implements the HTTP stage's access log settings interface.
type accessLogSettings struct {
	destination awsapigatewayv2.IAccessLogDestination
	format      awsapigateway.AccessLogFormat
}

func (s *accessLogSettings) Destination() awsapigatewayv2.IAccessLogDestination { return s.destination }
func (s *accessLogSettings) Format() awsapigateway.AccessLogFormat              { return s.format }
