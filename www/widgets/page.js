// widget.html?name=sgd&lr=0.3&steps=50: one lesson widget alone on a page, for an iframe. `name`
// picks the widget (sgd, lr-finder, schedule, classifier); every other URL parameter becomes the
// attribute of the same name, checked by the widget as any attribute is.
import './index.js';

const NAMES = ['sgd', 'lr-finder', 'schedule', 'classifier'];
const params = new URLSearchParams(location.search);
const name = params.get('name');
const main = document.querySelector('main');

if (NAMES.includes(name)) {
  const widget = document.createElement(`kiln-${name}`);
  for (const [key, value] of params) if (key !== 'name') widget.setAttribute(key, value);
  main.append(widget);
  document.title = `kiln · ${name}`;
} else {
  const message = document.createElement('p');
  message.className = 'notice error';
  message.setAttribute('role', 'alert');
  message.textContent = `This page shows one lesson widget: add ?name= and one of ${NAMES.join(', ')} to its address${name ? ` (not "${name}")` : ''}, such as widget.html?name=sgd&lr=0.3.`;
  main.append(message);
}
