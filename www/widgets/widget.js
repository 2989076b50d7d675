// What every lesson widget shares: a custom element whose settings are its attributes, each
// checked against its rule (a bad value shows a message in the widget, never a blank box), each
// also a property (`widget.lr = 0.3` sets the attribute `lr`), and a shadow root styled by
// widgets.css through a <link>, so that a teacher's page styles nothing inside it and a
// Content-Security-Policy without 'unsafe-inline' allows it.
import { el } from '../lesson2-ui.js';

export { el };

const STYLESHEETS = [new URL('../vendor/uPlot.min.css', import.meta.url).href, new URL('widgets.css', import.meta.url).href];

/** Rules for attribute values: each turns the attribute's text into its value, or null when it breaks the rule. */
const RULES = {
  number: (text, { min, max }) => {
    const value = Number(text);
    return text.trim() !== '' && Number.isFinite(value) && value >= min && value <= max ? value : null;
  },
  integer: (text, spec) => {
    const value = RULES.number(text, spec);
    return Number.isInteger(value) ? value : null;
  },
  choice: (text, { choices }) => (choices.includes(text) ? text : null),
  text: (text) => text,
};

/** What a rule allows, for the message about a value that breaks it. */
function allowed({ type, min, max, choices }) {
  if (type === 'choice') return `one of ${choices.join(', ')}`;
  if (type === 'integer') return `a whole number from ${min} to ${max}`;
  return `a number from ${min} to ${max}`;
}

/** An attribute's name as its property's: pct-start → pctStart. */
export const camel = (name) => name.replace(/-([a-z])/g, (_, c) => c.toUpperCase());

/**
 * A widget class: `static settings` maps each attribute to its rule ({type: 'number' | 'integer',
 * min, max} or {type: 'choice', choices} or {type: 'text'}) and its `default`. Subclasses
 * build their content once in `build(root)` and show settings in `update(settings)`, which runs
 * whenever an attribute changes and every setting is good.
 */
export class KilnWidget extends HTMLElement {
  static get observedAttributes() {
    return Object.keys(this.settings);
  }

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.append(...STYLESHEETS.map((href) => el('link', { rel: 'stylesheet', href })));
    this.problem = el('p', { className: 'problem', role: 'alert', hidden: true });
    this.body = el('div', { className: 'body' });
    root.append(this.problem, this.body);
    this.built = false;
  }

  connectedCallback() {
    if (!this.built) {
      this.build(this.body);
      this.built = true;
    }
    this.refresh();
  }

  attributeChangedCallback() {
    if (this.built) this.refresh();
  }

  /** The settings from the attributes (defaults for missing ones), or the first problem. */
  readSettings() {
    const settings = {};
    for (const [name, spec] of Object.entries(this.constructor.settings)) {
      const text = this.getAttribute(name);
      if (text === null) {
        settings[camel(name)] = spec.default;
        continue;
      }
      const value = RULES[spec.type](text, spec);
      if (value === null) return { problem: `${this.localName}: ${name}="${text}" is not allowed: ${name} must be ${allowed(spec)}.` };
      settings[camel(name)] = value;
    }
    return { settings };
  }

  refresh() {
    const { settings, problem } = this.readSettings();
    this.showProblem(problem ?? '');
    this.body.hidden = Boolean(problem);
    if (settings) this.update(settings);
  }

  /** Shows (or with '' hides) the widget's message about a setting or a failure. */
  showProblem(text) {
    this.problem.textContent = text;
    this.problem.hidden = !text;
  }
}

/** Defines `<name>` as `Widget`, with a property for each attribute (camelCase) reflecting it. */
export function defineWidget(name, Widget) {
  for (const attribute of Object.keys(Widget.settings)) {
    Object.defineProperty(Widget.prototype, camel(attribute), {
      get() { return this.readSettings().settings?.[camel(attribute)]; },
      set(value) { this.setAttribute(attribute, String(value)); },
    });
  }
  if (!customElements.get(name)) customElements.define(name, Widget);
}

/** A labelled slider bound to the attribute `name` of `widget`: moving it sets the attribute. */
export function slider(widget, name, label, { min, max, step }) {
  const input = el('input', { type: 'range', min, max, step, name });
  const value = el('output', {});
  input.addEventListener('input', () => widget.setAttribute(name, input.value));
  const field = el('label', { className: 'slider' }, el('span', {}, label), input, value);
  /** Shows `current` on the slider. */
  field.show = (current, text = String(current)) => {
    input.value = String(current);
    value.textContent = text;
  };
  return field;
}
