// Package docs holds kapso-bridge's API reference, openapi.json (OpenAPI
// 3.1), embedded so that make dev serves the very file kept in the
// repository, and the guides beside it. Its tests hold the document to the
// handlers: every route and every status they answer, and nothing else; and
// the guides (README.md and docs/*.md) to the tree: every path, route,
// queue, setting, make target, test and alarm they name exists.
package docs

import (
	_ "embed"
	"net/http"
)

// OpenAPI is openapi.json: every route of shared/routes with its
// parameters, bodies and answers.
//
//go:embed openapi.json
var OpenAPI []byte

// OpenAPIPath is where the local stack serves the document.
const OpenAPIPath = "/openapi.json"

// OpenAPIHandler serves the document.
func OpenAPIHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(OpenAPI)
	})
}
