import { renderPage } from './assets/page';
import { APP_JS } from './assets/script';
import { APP_CSS } from './assets/style';

/**
 * The page's files, shipped as strings in the compiled package: the user's
 * app needs no build step and no copy of static files, and nothing is
 * fetched from elsewhere.
 */
export type DashboardAsset = 'app.js' | 'app.css';

export function indexPage(base: string): string {
  return renderPage(base);
}

export function asset(name: DashboardAsset): string {
  return name === 'app.js' ? APP_JS : APP_CSS;
}
