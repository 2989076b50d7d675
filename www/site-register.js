// Registers the published site's service worker (sw.js beside the page: dist/ only; see
// www/site-worker.js). On a first visit the page was not served by it, so it is not cross-origin
// isolated and would run kiln on one thread: once the worker is in control, the page reloads
// once to get its headers. A browser without service workers (or a private window that refuses
// them) runs the site as it is, online and on one thread.
(() => {
  if (!('serviceWorker' in navigator)) return;
  const RELOADED = 'kiln-isolation-reload';
  navigator.serviceWorker.register('sw.js').then(
    () => {
      if (self.crossOriginIsolated) return;
      const reload = () => {
        // Once per tab: a host or browser that still does not isolate must not loop.
        if (sessionStorage.getItem(RELOADED)) return;
        sessionStorage.setItem(RELOADED, '1');
        location.reload();
      };
      if (navigator.serviceWorker.controller) reload();
      else navigator.serviceWorker.addEventListener('controllerchange', reload, { once: true });
    },
    (error) => console.warn(`kiln: the offline service worker could not be registered (${error.message}); the site needs the network`),
  );
})();
