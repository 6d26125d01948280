// /docs: Swagger UI, served from this project (no other site), started by a script of its own
// rather than an inline one, so that the page keeps the console's content security policy.
"use strict";

const OPENAPI_URL = document.currentScript.dataset.openapi;

document.addEventListener("DOMContentLoaded", () => {
  window.ui = SwaggerUIBundle({
    url: OPENAPI_URL,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset].filter(Boolean),
    // No badge fetched from swagger.io: the page asks nothing of any other site.
    validatorUrl: null,
  });
});
