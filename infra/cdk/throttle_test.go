package main

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/shared/routes"
)

// The webhook and redirect routes have a throttle of their own
// (webhookThrottleRate/Burst), so a flood on them cannot use up /v1's
// (the stage's default) nor the reverse; the stage waits for the routes it
// names, which CloudFormation needs made first.
func TestWebhookRoutesHaveTheirOwnThrottle(t *testing.T) {
	_, stage := one(t, "AWS::ApiGatewayV2::Stage", "ApiDefaultStage")
	settings, _ := prop(stage.Properties, "RouteSettings").(map[string]any)
	own := slices.Concat(routes.Ingest, routes.Redirects)
	if len(settings) != len(own) {
		t.Errorf("route settings for %d routes, want %d: %v", len(settings), len(own), settings)
	}
	for _, r := range own {
		if got := settings[r.Pattern()]; !reflect.DeepEqual(got, map[string]any{"ThrottlingRateLimit": 100.0, "ThrottlingBurstLimit": 200.0}) {
			t.Errorf("%s: %v", r.Pattern(), got)
		}
	}
	for _, r := range routes.TenantAPI {
		if _, ok := settings[r.Pattern()]; ok {
			t.Errorf("%s has a route throttle: /v1 takes the stage's", r.Pattern())
		}
	}
	keys := map[string]string{}
	for id, r := range ofType("AWS::ApiGatewayV2::Route") {
		keys[id] = r.Properties["RouteKey"].(string)
	}
	for _, r := range own {
		found := false
		for _, dep := range stage.DependsOn {
			found = found || keys[dep] == r.Pattern()
		}
		if !found {
			t.Errorf("the stage does not wait for %s", r.Pattern())
		}
	}
}

// With apiIamAuth, every /v1 route takes only SigV4-signed requests (an
// IAM authorizer); the webhooks and redirects, which Kapso and browsers
// call, stay open to their own checks. Without it no route has one
// (TestRoutesAreExactlyTheFunctionRoutes).
func TestIAMAuthOnV1(t *testing.T) {
	s, err := synth(map[string]string{"apiIamAuth": "true"})
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, r := range s.tpl.ofType("AWS::ApiGatewayV2::Route") {
		key := r.Properties["RouteKey"].(string)
		v1 := strings.Contains(key, " /v1/")
		auth, _ := r.Properties["AuthorizationType"].(string)
		switch {
		case v1 && auth != "AWS_IAM":
			t.Errorf("%s: authorization %q, want AWS_IAM", key, auth)
		case !v1 && auth != "" && auth != "NONE":
			t.Errorf("%s: authorization %q, want none", key, auth)
		}
		if v1 {
			seen++
		}
	}
	if seen != len(routes.TenantAPI) {
		t.Errorf("%d /v1 routes, want %d", seen, len(routes.TenantAPI))
	}
}
