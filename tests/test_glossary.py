"""Each report carries a glossary, and the first use of each term links to it (issue 11)."""

from __future__ import annotations

from pipeline.report.glossary import TERMS, anchor, glossary_html, link_first_uses

NEEDED = ["odds ratio", "rate ratio", "percentage points", "counterfactual", "sii", "rii",
          "spc", "special cause", "confidence interval", "interrupted time series"]


def test_the_glossary_defines_every_term_a_reader_meets():
    names = " ".join(TERMS).lower()
    for term in NEEDED:
        assert term in names, term
    page = glossary_html()
    assert page.count("<dt id=") == len(TERMS) and page.count("<dd>") == len(TERMS)


def test_first_use_in_running_text_links_to_the_entry_and_later_uses_do_not():
    page = ("<head><title>SII report</title></head><main><h2>SPC view</h2>"
            "<p>The odds ratio was 1.3 (95% CI 1.1 to 1.6); the Odds Ratio again.</p>"
            "<table><tr><th>Odds ratio</th></tr></table><p><code>SII</code> then SII.</p>"
            + glossary_html() + "</main>")
    linked = link_first_uses(page)
    odds = f'<a class="gloss" href="#{anchor("Odds ratio")}"'
    assert linked.count(odds) == 1
    assert f'{odds} title="Glossary: Odds ratio">odds ratio</a> was 1.3' in linked
    assert "the Odds Ratio again" in linked and "<th>Odds ratio</th>" in linked
    assert "<h2>SPC view</h2>" in linked and "<title>SII report</title>" in linked
    assert "<code>SII</code> then <a class=\"gloss\"" in linked     # code skipped, text linked
    assert f'<dt id="{anchor("Odds ratio")}">Odds ratio</dt>' in linked
