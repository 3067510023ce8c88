/** The dashboard's styles: readable on a laptop and a phone, visible focus, no web fonts. */
export const APP_CSS = String.raw`
:root {
  --bg: #f6f7f9; --panel: #fff; --text: #1c2330; --muted: #5b6475; --line: #dde1e8;
  --accent: #1f5fbf; --ok: #1d7a46; --bad: #b42318; --warn: #9a6700;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 15px;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); line-height: 1.4; }
a { color: var(--accent); }
:focus-visible { outline: 3px solid #f5a623; outline-offset: 2px; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.skip { position: absolute; left: -999px; top: 0; background: var(--panel); padding: .5rem; }
.skip:focus { left: .5rem; }
.top { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.5rem; padding: .6rem 1rem;
  background: #14213d; color: #fff; }
.brand { font-weight: 700; font-size: 1.2rem; letter-spacing: .02em; }
.top nav { display: flex; flex-wrap: wrap; gap: .25rem; }
.top nav a { color: #dfe7f5; text-decoration: none; padding: .35rem .7rem; border-radius: 6px; }
.top nav a[aria-current="page"] { background: #2b4a8b; color: #fff; }
.live { margin-left: auto; font-size: .85rem; color: #b9c6de; }
.live.stale { color: #ffb4a8; }
main { padding: 1rem; max-width: 1400px; margin: 0 auto; }
main:focus { outline: none; }
h1 { font-size: 1.35rem; margin: .2rem 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.2rem 0 .5rem; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: .8rem; margin-bottom: 1rem; }
.scroll { overflow-x: auto; position: relative; } /* relative: holds the visually hidden labels in too */
table { border-collapse: collapse; width: 100%; background: var(--panel); }
caption { text-align: left; font-weight: 600; padding: .4rem 0; }
th, td { padding: .4rem .45rem; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; white-space: nowrap; }
thead th { font-size: .75rem; text-transform: uppercase; letter-spacing: .02em; color: var(--muted); }
tbody th { font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.wrap { white-space: normal; overflow-wrap: anywhere; min-width: 10rem; }
button, select, input { font: inherit; }
button { border: 1px solid #b8c0cc; background: #fff; color: var(--text); border-radius: 6px; padding: .3rem .7rem; cursor: pointer; }
button:hover:not(:disabled) { background: #eef2f8; }
button:disabled { opacity: .5; cursor: not-allowed; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger { border-color: var(--bad); color: var(--bad); }
input, select { border: 1px solid #b8c0cc; border-radius: 6px; padding: .3rem .45rem; background: #fff; min-width: 0; }
input[type="number"] { width: 4.2rem; }
.filters { display: flex; flex-wrap: wrap; gap: .6rem; align-items: flex-end; }
.filters label, .field { display: flex; flex-direction: column; font-size: .8rem; color: var(--muted); gap: .15rem; }
.actions { display: flex; flex-wrap: wrap; gap: .4rem; align-items: center; margin: .6rem 0; }
.inline { display: inline-flex; gap: .3rem; align-items: center; }
.state { display: inline-block; padding: .05rem .45rem; border-radius: 999px; font-size: .8rem; background: #e8ecf2; }
.state-completed { background: #dff3e6; color: var(--ok); }
.state-discarded, .state-retryable { background: #fde6e3; color: var(--bad); }
.state-cancelled { background: #f1eee4; color: var(--warn); }
.state-executing { background: #e2ecfb; color: var(--accent); }
.paused { color: var(--warn); font-weight: 600; }
.muted { color: var(--muted); }
.zero { color: #a7adb8; }
pre { background: #0f172a; color: #e2e8f0; padding: .6rem; border-radius: 6px; overflow-x: auto; font-size: .85rem; white-space: pre-wrap; word-break: break-word; }
dl.fields { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; margin: 0; }
dl.fields dt { color: var(--muted); }
dl.fields dd { margin: 0; word-break: break-word; }
.errors li { margin-bottom: .6rem; }
.chart { width: 100%; height: 160px; display: block; }
.axis { display: flex; justify-content: space-between; font-size: .8rem; margin: .2rem 0 .4rem; }
.legend { display: flex; gap: 1rem; font-size: .85rem; }
.swatch-ok { background: var(--ok); }
.swatch-bad { background: var(--bad); }
.swatch { display: inline-block; width: .8rem; height: .8rem; border-radius: 2px; vertical-align: middle; margin-right: .3rem; }
.status { position: fixed; bottom: 1rem; right: 1rem; max-width: 90vw; }
.status:not(:empty) { background: #14213d; color: #fff; padding: .6rem .9rem; border-radius: 8px; box-shadow: 0 4px 16px rgba(0,0,0,.2); }
.status.error:not(:empty) { background: var(--bad); }
dialog { border: 1px solid var(--line); border-radius: 10px; max-width: min(32rem, 92vw); }
dialog::backdrop { background: rgba(15, 23, 42, .45); }
dialog .buttons { display: flex; justify-content: flex-end; gap: .5rem; }
.cards { margin-bottom: 1rem; display: grid; grid-template-columns: repeat(auto-fill, minmax(14rem, 1fr)); gap: .8rem; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: .7rem; }
.card strong { display: block; font-size: 1.4rem; }
@media (max-width: 640px) {
  :root { font-size: 14px; }
  main { padding: .6rem; }
  .live { margin-left: 0; width: 100%; }
  .filters label { flex: 1 1 45%; }
  dl.fields { grid-template-columns: 1fr; }
}
`;
