// Swagger UI (the swagger-ui-dist package, served by this server) on this server's copy of
// openapi.yaml, whose `servers` is this server. The playground's API key, when this tab has one,
// is filled in for "Try it out".
/* global SwaggerUIBundle */
const KEY_STORAGE = 'modelport.apiKey';

window.ui = SwaggerUIBundle({
  url: './openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
  // Nothing leaves this server: no call to the public validator badge.
  validatorUrl: null,
  docExpansion: 'list',
  defaultModelsExpandDepth: 0,
  displayRequestDuration: true,
  filter: true,
  tryItOutEnabled: false,
  onComplete() {
    const key = sessionStorage.getItem(KEY_STORAGE);
    if (key) window.ui.preauthorizeApiKey('bearerAuth', key);
    document.body.dataset.ready = 'true';
  },
});
