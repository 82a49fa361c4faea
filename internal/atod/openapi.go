package atod

import (
	_ "embed"
	"net/http"
)

// openAPI is the OpenAPI 3 description of atod's API, served at
// /openapi.json. TestOpenAPI checks it against the routes and the
// answers of the real handlers.
//
//go:embed openapi.json
var openAPI []byte

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI)
}
