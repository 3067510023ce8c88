/**
 * The dashboard's HTML page. `base` is the path the page was served at; its
 * script and styles are below it, so the page works under any mount path and
 * global prefix, offline, with nothing fetched from elsewhere.
 */
export function renderPage(base: string): string {
  const b = escapeHtml(base === '/' ? '' : base);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Oban dashboard</title>
<link rel="stylesheet" href="${b}/assets/app.css">
<script src="${b}/assets/app.js" defer></script>
</head>
<body data-base="${b}">
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <span class="brand">Oban</span>
  <nav aria-label="Sections">
    <a href="#/queues" data-nav="queues">Queues</a>
    <a href="#/jobs" data-nav="jobs">Jobs</a>
    <a href="#/nodes" data-nav="nodes">Nodes</a>
    <a href="#/activity" data-nav="activity">Activity</a>
  </nav>
  <span id="live" class="live" aria-live="off">connecting…</span>
</header>
<main id="main" tabindex="-1"><p>Loading…</p></main>
<div id="status" class="status" role="status" aria-live="polite"></div>
<dialog id="confirm" aria-labelledby="confirm-title" aria-describedby="confirm-text">
  <h2 id="confirm-title">Confirm</h2>
  <p id="confirm-text"></p>
  <div class="buttons">
    <button type="button" id="confirm-cancel">Cancel</button>
    <button type="button" id="confirm-ok" class="danger">Confirm</button>
  </div>
</dialog>
<noscript>The Oban dashboard needs JavaScript.</noscript>
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
