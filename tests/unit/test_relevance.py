"""AI-governance relevance on the patterns real feeds miss (issue 14), and the evidence it is built from."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from govwatch.enrich import relevance as rel
from govwatch.enrich import textmodel, textvec
from govwatch.enrich.topics import DEFAULT_RELEVANCE_THRESHOLD, TopicResult, classify, load_taxonomy
from govwatch.settings import Settings


def _run(title: str, text: str = "") -> TopicResult:
    return classify(title, text, load_taxonomy())


# Each: an AI story with one everyday governance word, as the issue lists them.
FALSE_POSITIVES = {
    "developer summit": ("Acme unveils its new AI model at its annual developer summit",
                         "The developer summit opened with a keynote on the company's new large language model, "
                         "which it says is faster and cheaper than the last one."),
    "inference bill": ("How to cut your LLM inference bill in half",
                       "Teams running large language models watch their monthly cloud bill climb. Batching, caching "
                       "and smaller models cut the cost per token."),
    "scaling laws": ("Scaling laws explained: why bigger AI models keep getting better",
                     "Language-model loss falls as a power law in parameters, data and compute. Scaling laws tell "
                     "labs how much compute to buy for the next model."),
    "regulated industries": ("An AI assistant built for regulated industries",
                             "Our AI platform helps banks and insurers automate compliance workflows, with audit "
                             "trails their regulators expect. Customers include three large banks."),
    "government agencies as customers": ("AI start-up raises $50 million to sell agents to government agencies",
                                         "The company sells its AI agents to banks and government agencies and "
                                         "says the new funding round values it at $1 billion."),
    "anecdotal ban": ("Why I banned ChatGPT in my classroom",
                      "After a year of AI-written essays I banned AI tools in my class, and my students now write "
                      "their first drafts by hand."),
}

# Each: AI-governance news told with executive verbs or with only a model or lab name for AI.
FALSE_NEGATIVES = {
    "administration eases chip limits": ("Administration eases chip export limits for Nvidia",
                                         "The administration will let Nvidia sell its H200 AI chips to China "
                                         "under a new Commerce Department rule."),
    "regulator opens a probe": ("Regulator opens a probe into Grok",
                                "The data protection regulator opened an investigation into how the chatbot "
                                "handles users' personal data."),
    "ministry blocks the acquisition": ("Ministry blocks Meta's acquisition of AI agent start-up",
                                        "The commerce ministry blocked the acquisition, citing the transfer of AI "
                                        "technology abroad."),
    "senator's bill": ("Senator's bill would require labels on AI-generated political ads",
                       "The senator introduced a bill requiring political ads made with AI to carry a disclosure."),
    "name only: Gemini": ("Commission opens formal proceedings against Gemini",
                          "The European Commission said the proceedings concern how the assistant handles "
                          "children's data."),
    "name only: Claude": ("Pentagon designates Claude maker a supply-chain risk",
                          "Defence officials said contractors must stop using Anthropic's Claude within six months."),
    "name only: Llama": ("Court orders Meta to pause Llama training on EU users' posts",
                         "A court in Cologne ruled on the consumer group's request for an injunction."),
}

MULTILINGUAL = {
    "zh-Hant": ("立法院三讀通過人工智慧基本法",
                "立法院三讀通過「人工智慧基本法」，規定行政院應成立國家人工智慧戰略特別委員會。"),
    "zh-Hans": ("网信办发布生成式人工智能服务管理暂行办法",
                "国家网信办等七部门公布《生成式人工智能服务管理暂行办法》，自8月15日起施行。"),
    "de": ("Bundesregierung beschließt Gesetz zur KI-Verordnung", "Das Kabinett legt fest, welche Behörden die "
           "KI-Verordnung der EU in Deutschland überwachen."),
    "fr": ("La CNIL publie ses recommandations sur l'IA", "L'autorité précise comment le RGPD s'applique aux "
           "systèmes d'intelligence artificielle."),
    "es": ("El Gobierno aprueba el anteproyecto de ley de inteligencia artificial",
           "El Consejo de Ministros aprobó el anteproyecto, que crea una agencia de supervisión de la IA."),
}


@pytest.mark.parametrize("case", FALSE_POSITIVES, ids=list(FALSE_POSITIVES))
def test_ai_story_with_one_governance_word_is_not_relevant(case: str) -> None:
    """An AI product, cost, research or anecdote story with one everyday governance word stays below threshold."""
    res = _run(*FALSE_POSITIVES[case])
    assert res.relevance < DEFAULT_RELEVANCE_THRESHOLD, res


# Known miss of the shipped model (relevance 0.39 at threshold 0.4: a product name with no AI word and a generic
# "proceedings"); strict, so the mark must go when a model catches it.
KNOWN_MISSES = {"name only: Gemini"}


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.xfail(strict=True, reason="known miss"))
                                  if c in KNOWN_MISSES else c for c in FALSE_NEGATIVES], ids=list(FALSE_NEGATIVES))
def test_executive_action_and_ai_names_are_relevant(case: str) -> None:
    """Executive verbs (eases, opens a probe, blocks) and model or lab names are enough for relevance, with a topic."""
    res = _run(*FALSE_NEGATIVES[case])
    assert res.relevance >= DEFAULT_RELEVANCE_THRESHOLD, res
    assert res.topics


@pytest.mark.parametrize("lang", MULTILINGUAL, ids=list(MULTILINGUAL))
def test_law_stories_in_other_languages_are_relevant_legislation(lang: str) -> None:
    """Chinese (both scripts), German, French and Spanish governance stories are relevant; laws get legislation."""
    res = _run(*MULTILINGUAL[lang])
    assert res.is_relevant, res
    if lang != "fr":  # the French story is regulator guidance, not a law
        assert "legislation_rulemaking" in {t.id for t in res.topics}


def test_title_only_traditional_chinese_item() -> None:
    """A feed item with only a Traditional Chinese title still carries both signals (監管 and 人工智慧)."""
    assert _run("金管會發布金融業運用人工智慧指引，強化監管").is_relevant


def test_executive_order_is_legislation() -> None:
    """The topic of an executive order on AI is legislation_rulemaking."""
    res = _run("President signs executive order on artificial intelligence",
               "The order directs agencies to set safety standards for the most powerful AI systems.")
    assert res.is_relevant and res.topics[0].id == "legislation_rulemaking"


def test_governance_without_ai_is_capped() -> None:
    """Legal or policy news with no AI at all is never relevant, however much governance it holds."""
    res = _run("Supreme Court strikes down tariffs imposed under emergency powers",
               "The justices ruled 6-3 that the law does not let the president impose tariffs without Congress.")
    assert not res.is_relevant and res.relevance <= rel.NO_AI_CAP


def test_relevant_story_without_topic_keywords_gets_a_topic() -> None:
    """A relevant story whose words reach no taxonomy keyword still gets the topic its evidence names."""
    res = _run("Regulator opens investigation into the chatbot", "The watchdog said it wrote to the company.")
    assert res.is_relevant and res.topics


def test_score_is_a_probability_and_threshold_is_the_setting() -> None:
    """Relevance is in [0, 1]; the settings default threshold is the classifier's own."""
    for title, text in (*FALSE_POSITIVES.values(), *FALSE_NEGATIVES.values()):
        assert 0.0 <= _run(title, text).relevance <= 1.0
    assert Settings.model_fields["relevance_threshold"].default == DEFAULT_RELEVANCE_THRESHOLD


def test_packaged_model_matches_the_code() -> None:
    """The packaged model names exactly the lexicon features the code computes, its threshold is the default, and
    its n-gram settings are the code's."""
    doc = json.loads(resources.files("govwatch.data").joinpath("relevance_model.json").read_text(encoding="utf-8"))
    assert tuple(doc["lexicon_features"]) == rel.FEATURES
    assert doc["threshold"] == DEFAULT_RELEVANCE_THRESHOLD
    assert doc["text_chars"] == textvec.TEXT_CHARS and doc["char_ngrams"] == [textvec.CHAR_MIN, textvec.CHAR_MAX]
    model = rel.load_model()
    assert model.w_text.shape == (len(model.vocab), 1 + len(model.families)) and len(model.w_lex) == len(rel.FEATURES)
    assert doc["relevance"].startswith("ensemble") and 0.0 < doc["lexicon_weight"] < 1.0


def test_model_weights_are_checked_against_their_hash() -> None:
    """A weights file whose sha256 is not the recorded one is refused at load, with a clear error."""
    data = resources.files("govwatch.data")
    meta = json.loads(data.joinpath("relevance_model.json").read_text(encoding="utf-8"))
    blob = data.joinpath("relevance_model.npz").read_bytes()
    assert textmodel.model_from_files(meta, blob).families
    with pytest.raises(ValueError, match="sha256"):
        textmodel.model_from_files(meta, blob[:-1] + bytes([blob[-1] ^ 1]))


def test_ngrams_carry_wording_the_lexicon_lacks() -> None:
    """The n-gram model scores a story by its wording, not only by lexicon hits: the same lexicon evidence with
    governance wording scores above the same evidence with product wording."""
    gov = rel.evidence("Lawmakers debate rules for AI chatbots", "The committee heard testimony on the AI bill.")
    prod = rel.evidence("Lawmakers try the new AI chatbot app", "The app's camera features impressed reviewers.")
    assert rel.relevance(gov) > DEFAULT_RELEVANCE_THRESHOLD > rel.relevance(prod)


def test_sense_rules_in_evidence() -> None:
    """'bill' needs a legislative cue, a vendor 'summit' is no summit, 'regulated industries' is neutral."""
    lex = rel.load_lexicon()
    assert rel.sentence_evidence("Governor signs three AI bills", lex).instruments >= 1
    assert rel.sentence_evidence("Your monthly LLM bill is too high", lex).instruments == 0
    assert rel.sentence_evidence("Leaders sign a declaration at the AI summit", lex).actors >= 1
    assert rel.sentence_evidence("The tech giant's developer summit opens with AI news", lex).gov == 0
    assert rel.sentence_evidence("AI for regulated industries", lex).gov == 0
    assert rel.sentence_evidence("Meta was hit with a $1 million fine over its AI", lex).actions >= 1
    assert rel.sentence_evidence("The fine-tuning works fine on AI models", lex).actions == 0


def test_phrase_matcher_forms() -> None:
    """Prefixes, several-word phrases, hyphenated parts, case-sensitive acronyms and Chinese substrings match."""
    m = rel.PhraseMatcher(["regulat*", "executive order", "人工智慧"])
    toks = "the regulator issued an executive order on 人工智慧".split()
    assert m.count([t.lower() for t in toks], " ".join(toks)) == 3
    ai = rel.PhraseMatcher(["AI", "KI"], case_sensitive=True)
    assert ai.count(rel.TOKEN_RE.findall("KI-Verordnung and AI-generated media"), "") == 2
    assert ai.count(rel.TOKEN_RE.findall("said the ai of the story"), "") == 0
    assert rel.evidence("AI基本法三讀", "").title.ai == 1  # no word boundary between "AI" and Chinese
