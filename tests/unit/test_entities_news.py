"""Entities on news (issue 26): cited sources apart from subjects, story-defined acronyms, company names without a
legal suffix, the news actors of the gazetteer."""

from __future__ import annotations

from govwatch.enrich.entities import Entity, extract_entities
from govwatch.enrich.gazetteer import load_gazetteer, tokenize
from govwatch.enrich.roles import is_citation


def _by_name(text: str, title: str = "") -> dict[str, Entity]:
    return {e.name: e for e in extract_entities(title, text, load_gazetteer())}


def test_outlets_only_cited_are_sources() -> None:
    """Wire credits, "according to", "told" and "X reported" make an outlet a source; the story's actors stay
    subjects."""
    ents = _by_name("WASHINGTON (AP) \u2014 Meta changed its photo permissions, TechCrunch reported. A spokesperson "
                    "told CNN the change was minor, according to Reuters.")
    assert {n for n, e in ents.items() if e.role == "source"} == {"Associated Press", "TechCrunch", "CNN", "Reuters"}
    assert ents["Meta Platforms"].role == "subject"


def test_one_mention_as_an_actor_makes_an_outlet_a_subject() -> None:
    """The New York Times suing OpenAI is a subject even when the same story also cites it."""
    ents = _by_name("The New York Times sued OpenAI on Monday, the New York Times reported.")
    assert ents["The New York Times"].role == "subject"


def test_a_company_reporting_its_results_is_not_a_citation() -> None:
    """"Micron reported a loss" is the company's own news; "Reuters reported" cites an outlet."""
    tokens = tokenize("Micron reported a loss. Reuters reported that demand fell.")
    assert not is_citation(tokens, 0, 1, "")
    assert is_citation(tokens, 5, 6, "")


def test_people_and_countries_are_always_subjects() -> None:
    """Only organisations get the source role."""
    ents = _by_name("Senator Maria Cantwell told Reuters that China would respond.")
    assert ents["Maria Cantwell"].role == "subject" and ents["China"].role == "subject"


def test_an_acronym_defined_but_never_used_again_is_left_alone() -> None:
    """A bracketed acronym the story never uses again links nothing (lists of parties in reference prose)."""
    ents = _by_name("The Forza Europa Union (FEU) joined the coalition.")
    assert ents["Forza Europa Union"].mentions == 1


def test_a_defined_acronym_joins_the_organisation() -> None:
    """"the Consumer Data Protection Office (CDPO)" then "the CDPO": one organisation with three mentions."""
    ents = _by_name("The Consumer Data Protection Office (CDPO) opened a case. The CDPO declined to comment.")
    assert ents["Consumer Data Protection Office"].mentions == 3
    assert "CDPO" not in ents


def test_a_defined_acronym_makes_an_organisation_of_an_uncued_name() -> None:
    """"The New York State Attorney General (NYAG)" is an organisation, and later "NYAG" mentions count for it."""
    ents = _by_name("The New York State Attorney General (NYAG) is investigating WeWork. The NYAG asked questions.")
    assert ents["New York State Attorney General"].type == "org"
    assert ents["New York State Attorney General"].mentions == 3
    assert ents["WeWork"].type == "org"


def test_a_defined_acronym_after_a_law_is_a_law_and_products_are_not_organisations() -> None:
    """An acronym defined after an "Act" names a law; one after a rover or an index names no organisation."""
    ents = _by_name("The Telephone Consumer Protection Act (TCPA) applies. The Volatiles Investigating Polar "
                    "Exploration Rover (VIPER) and the Hang Seng Index (HSI) were mentioned. The TCPA bans robocalls, "
                    "VIPER will land and the HSI fell.")
    assert ents["Telephone Consumer Protection Act"].type == "law"
    assert not any(e.type == "org" for e in ents.values())


def test_news_actors_without_a_legal_suffix_are_organisations() -> None:
    """Companies, agencies and parties that news names bare are organisations, not people ("Gannett said")."""
    ents = _by_name("Micron Technology, one of America's largest memory chip makers, said sales fell. Gannett said "
                    "it would merge. The White House and Republicans objected; the Taliban freed two hostages.")
    for name in ("Micron Technology", "Gannett", "White House", "Republicans (US)", "Taliban"):
        assert ents[name].type == "org", name


def test_party_plurals_inside_longer_names_are_other_parties() -> None:
    """"Christian Democrats" and "Australian Democrats" are not the US Democrats."""
    ents = _by_name("The Christian Democrats and the Australian Democrats met the Democrats of the Left.")
    assert "Democrats (US)" not in ents


def test_capitalised_alias_words_must_be_capitalised() -> None:
    """"The hill was steep" is no mention of the outlet The Hill."""
    assert _by_name("The hill was steep.") == {}
    assert _by_name("Lawmakers told The Hill that the vote would pass.")["The Hill"].role == "source"


def test_a_platform_as_the_venue_of_a_post_is_not_the_company() -> None:
    """"posted on Twitter" and "a Twitter account" name a venue; "Twitter suspended" names the company."""
    assert "X Corp." not in _by_name("The senator posted on Twitter and deleted a Twitter account.")
    assert _by_name("Twitter suspended the account on Monday.")["X Corp."].mentions == 1


def test_a_known_surname_after_another_given_name_is_another_person() -> None:
    """"Jill Biden" is not Joe Biden; "Vice President Biden" and "Mr. Biden" are, and "Angry Trump supporters"
    makes no person."""
    ents = _by_name("Joe Biden spoke. Jill Biden sat on a board. Vice President Biden and Mr. Biden denied it.")
    assert ents["Joe Biden"].mentions == 3 and ents["Jill Biden"].mentions == 1
    ents = _by_name("Donald Trump spoke. Angry Trump supporters rallied. Democratic Trump critics objected.")
    assert {e.name for e in ents.values() if e.type == "person"} == {"Donald Trump"}


def test_a_country_inside_a_place_or_organisation_name_is_not_the_country() -> None:
    """Seas, states, constituencies and bodies named after a country are not mentions of it (guidelines section
    5); the country named on its own still is."""
    ents = _by_name("Ships crossed the Taiwan Strait and the Gulf of Oman. Officials in Western Australia and an MEP "
                    "for Ireland South spoke, and the Nigeria Police arrested two men.")
    assert not {"Taiwan", "Oman", "Australia", "Ireland", "Nigeria"} & set(ents)
    assert "Nigeria" in _by_name("The Nigeria Police said Nigeria would act.")
