// The lesson widgets, all defined by one import:
//   <script type="module" src="www/widgets/index.js"></script>
// then <kiln-sgd>, <kiln-lr-finder>, <kiln-schedule> and <kiln-classifier> anywhere in the page,
// their settings as attributes (README.md, "Lesson widgets"). widget.html shows one alone, for an
// iframe, with the same settings in its URL.
import './kiln-sgd.js';
import './kiln-lr-finder.js';
import './kiln-schedule.js';
import './kiln-classifier.js';
