"""The report's page: one Jinja2 template, styles inline, no scripts, nothing fetched."""

from __future__ import annotations

from typing import Any

import jinja2

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>classicnets report</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; max-width: 1100px; margin: 2em auto;
         padding: 0 1em; color: #222; }
  h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; margin-top: 2em; }
  nav a { margin-right: 1em; } .muted { color: #666; font-size: 0.9em; }
  figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
  figcaption { color: #555; font-size: 0.9em; }
  p, li, figcaption, td.text { overflow-wrap: anywhere; }  /* long paths wrap, not spill */
  .scroll { overflow-x: auto; max-width: 100%; margin: 1em 0; }  /* wide tables scroll here */
  table { border-collapse: collapse; font-size: 0.82em; }
  th, td { border: 1px solid #ddd; padding: 2px 6px; text-align: right; white-space: nowrap; }
  table.summary td { white-space: normal; text-align: left; min-width: 7em; vertical-align: top; }
  table.summary td.verdict { min-width: 16em; }
  th { background: #f5f5f5; } td:first-child, th:first-child { text-align: left; }
  pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; }
  .findings { background: #f3f8ff; border-left: 3px solid #4a7fd0; padding: 0.4em 1em; }
  .missing { background: #fff7e6; border-left: 3px solid #e0a030; padding: 0.4em 1em; }
  @media print {  /* A4 or Letter: every column on the page, a study per page */
    @page { margin: 14mm; }
    body { font-size: 10pt; max-width: none; margin: 0; padding: 0; }
    nav { display: none; }
    section.study, #single-runs { break-before: page; }
    h2, h3 { break-after: avoid; }
    figure, tr, pre, .findings, .missing { break-inside: avoid; }
    figure img { max-width: 100%; max-height: 230mm; border: 0; }
    .scroll { overflow: visible; }
    table { width: 100%; font-size: 7.5pt; }
    thead { display: table-header-group; }  /* a table over pages repeats its header */
    th, td { white-space: normal; overflow-wrap: anywhere; padding: 1px 3px; }
    pre { white-space: pre-wrap; overflow-wrap: anywhere; overflow: visible; }
    a { color: inherit; text-decoration: none; }
  }
</style>
</head>
<body>
<h1>classicnets report</h1>
<p class="muted">classicnets {{ version }}, made {{ created }} from {{ roots | join(", ") }}.
Every number below comes from the run records there; "best" is chosen on the validation
split and the test accuracy is reported at that point.</p>
{% if unfinished %}<p class="muted">Left out, unfinished (no summary.json yet; running now, or
stopped before the end): {{ unfinished | length }} run{{ "s" if unfinished | length > 1 }}:
{{ unfinished | join(", ") }}.</p>{% endif %}
<nav>{% for s in sections %}<a href="#{{ s.anchor }}">{{ s.title }}</a>{% endfor %}</nav>
<section id="summary"><h2>Summary</h2>
<p class="muted">One line per study: its trials, the best trial by validation accuracy with
the test accuracy there (without a validation split nothing is chosen), and the first of its
findings (the section says more).</p>
<div class="scroll"><table class="summary"><thead><tr><th>study</th><th>what ran</th>
<th>headline</th><th>finding</th></tr></thead><tbody>
{% for line in summary %}<tr><td><a href="#{{ line.anchor }}">{{ line.title }}</a></td>
<td>{{ line.ran }}</td><td>{{ line.headline }}</td><td class="verdict">{{ line.verdict }}</td></tr>
{% endfor %}</tbody></table></div></section>
{% for s in sections %}
<section id="{{ s.anchor }}" class="study">
<h2>{{ s.title }}</h2>
<p>{{ s.intro }}</p>
{% if s.present %}
{% if s.data %}<p class="data"><b>Data:</b> {{ s.data }}.</p>{% endif %}
<div class="findings"><p><b>What the numbers show.</b></p>
<ul>{% for line in s.findings %}<li>{{ line }}</li>{% endfor %}</ul></div>
{% for uri, caption in s.figures %}
<figure>{% if uri %}<img src="{{ uri }}" alt="{{ caption }}">{% endif %}
<figcaption>{{ caption }}</figcaption></figure>
{% endfor %}
{% if s.table %}<div class="scroll"><table><thead><tr>{% for c in s.table[0] %}<th>{{ c }}</th>
{%- endfor %}</tr></thead><tbody>{% for row in s.table[1:] %}<tr>{% for c in row %}<td>{{ c }}</td>
{%- endfor %}</tr>{% endfor %}</tbody></table></div>{% endif %}
{% if s.table_note %}<p class="muted">{{ s.table_note }}</p>{% endif %}
<p class="muted">{{ s.config }}</p>
<p>Reproduce:</p><pre>{{ s.command }}</pre>
{% else %}
<div class="missing"><p>No runs of this study yet. Make them with:</p>
<pre>{{ s.command }}</pre></div>
{% endif %}
</section>
{% endfor %}
{% if single_runs %}
<section id="single-runs"><h2>Single runs</h2>
<div class="scroll"><table><thead><tr><th>experiment</th><th>run</th><th>data</th>
<th>status</th><th>chosen by</th>
<th>its accuracy there</th><th>test accuracy there</th></tr></thead><tbody>
{% for experiment, run, data, status, chooser, accuracy, test in single_runs %}
<tr><td>{{ experiment }}</td><td>{{ run }}</td><td>{{ data }}</td><td>{{ status }}</td>
<td>{{ chooser or "nothing (no validation split)" }}</td>
<td>{{ "%.4f" | format(accuracy) if accuracy is not none else "—" }}</td>
<td>{{ "%.4f" | format(test) if test is not none else "—" }}</td></tr>
{% endfor %}</tbody></table></div></section>
{% endif %}
{% if claims %}
<section id="claims"><h2>The course's claims, checked</h2>
<div class="scroll"><table><thead><tr><th>id</th><th>claim</th><th>the course reported</th>
<th>checked as</th>
<th>this run measured (test accuracy, mean ± sd, n)</th><th>verdict</th></tr></thead><tbody>
{% for row in claims %}
<tr><td>{{ row.claim.id }}</td><td>{{ row.claim.text }}</td><td>{{ row.claim.reported }}</td>
<td>{{ row.claim.checked_as() }}</td><td>{{ row.measured }}</td><td>{{ row.verdict }}</td></tr>
{% endfor %}</tbody></table></div>
<p>{{ claims_rule }}</p></section>
{% endif %}
</body>
</html>
"""


def render(**context: Any) -> str:
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return environment.from_string(PAGE).render(**context)
