// Starts Swagger UI on /docs. A file, not an inline script, so the page passes the CSP.
// With a token set, "Authorize" takes it once and Swagger UI sends it on every call.
"use strict";

window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,  // no call to the public validator: the docs work offline
  presets: [SwaggerUIBundle.presets.apis],
});
