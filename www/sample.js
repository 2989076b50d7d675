// The bundled sample dataset (GCompris categorization photos, see www/sample/README.md) as the
// list of labelled files `kiln.ImageDataset.fromFiles` takes. Served by this site: nothing is
// fetched from anywhere else.

/**
 * Fetches www/sample/index.json and every photo it lists.
 * @param {string|URL} base URL of the sample folder (by default the one beside this module).
 * @param {{classes?: string[], perClass?: number}} options only these classes (all by default),
 *   and at most `perClass` photos of each (for quick checks).
 * @returns {Promise<{name: string, label: string, bytes: Uint8Array}[]>}
 */
export async function loadSampleFiles(base = new URL('sample/', import.meta.url), { classes, perClass = Infinity } = {}) {
  const folder = new URL(base, location.href);
  const response = await fetch(new URL('index.json', folder));
  if (!response.ok) throw new Error(`the sample dataset's index could not be loaded (HTTP ${response.status})`);
  const index = await response.json();
  const taken = new Map();
  const wanted = index.files.filter((file) => {
    if (classes && !classes.includes(file.label)) return false;
    taken.set(file.label, (taken.get(file.label) ?? 0) + 1);
    return taken.get(file.label) <= perClass;
  });
  return Promise.all(wanted.map(async (file) => {
    const photo = await fetch(new URL(file.path, folder));
    if (!photo.ok) throw new Error(`sample photo ${file.path} could not be loaded (HTTP ${photo.status})`);
    return { name: file.path, label: file.label, bytes: new Uint8Array(await photo.arrayBuffer()) };
  }));
}
