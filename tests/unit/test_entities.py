"""Entity extraction: gazetteer rules, countries, cue-based names, golden stories."""

from __future__ import annotations

import json

import pytest
from enrich_golden import GOLDEN, all_stories, load_story

from govwatch.enrich.entities import Entity, extract_entities
from govwatch.enrich.gazetteer import load_gazetteer


def _by_name(title: str, text: str) -> dict[str, Entity]:
    return {e.name: e for e in extract_entities(title, text, load_gazetteer())}


def test_ambiguous_alias_needs_support() -> None:
    """A bare "Commission" or "Trump" without a safe alias in the story yields no gazetteer entity."""
    ents = _by_name("Commission approves parking plan", "The Commission met. Trump Tower was not discussed.")
    assert "European Commission" not in ents
    assert "Donald Trump" not in ents


def test_ambiguous_alias_counts_with_same_entity_support() -> None:
    """"Commission" counts for the European Commission once "European Commission" appears in the story."""
    ents = _by_name("", "The European Commission opened a probe. The Commission said it would act fast.")
    assert ents["European Commission"].mentions == 2


def test_ai_act_supported_by_same_jurisdiction_org() -> None:
    """"AI Act" alone maps to the EU AI Act (with its QID) when an EU institution is named in the story."""
    ents = _by_name("", "The European Commission fined Acme under the AI Act.")
    act = ents["EU Artificial Intelligence Act"]
    assert (act.id, act.qid, act.type) == ("Q108456694", "Q108456694", "law")


def test_acronyms_are_case_sensitive_and_first_letter_case_is_respected() -> None:
    """"eu" and "open AI models" are not the EU and OpenAI, while "EU" and "OpenAI" are."""
    assert _by_name("", "we love open AI models, eu.") == {}
    ents = _by_name("", "The EU asked OpenAI for documents.")
    assert {"European Union", "OpenAI"} <= set(ents)


def test_longest_match_wins() -> None:
    """"Federal Trade Commission" is the FTC, never also the European Commission."""
    ents = _by_name("", "The European Commission and the Federal Trade Commission met.")
    assert ents["Federal Trade Commission"].mentions == 1
    assert ents["European Commission"].mentions == 1


def test_countries_use_iso_codes_and_demonyms_only_add_to_named_countries() -> None:
    """Country names give ISO alpha-2 ids and rigour's QIDs; a demonym adds a mention to a country the story names
    but reports none alone (issue 26: "the Chinese e-commerce giant" is not about the state); demonyms before a
    language noun do not count."""
    ents = _by_name("", "French regulators met officials from the US and France. German carmakers object. "
                        "Chinese-language media and French fries.")
    assert ents["France"].id == "FR" and ents["France"].mentions == 2 and ents["France"].qid == "Q142"
    assert ents["United States"].id == "US"
    assert "China" not in ents and "Germany" not in ents


def test_sub_national_places_are_never_countries() -> None:
    """UK nations, Gaza, Inner Mongolia and New Mexico are places, not the United Kingdom, Palestine, Mongolia or
    Mexico (docs/entity-guidelines.md section 5)."""
    ents = _by_name("", "Scotland and Wales voted. Patients from Inner Mongolia, Gaza and New Mexico were treated.")
    assert not {"United Kingdom", "Palestine", "Mongolia", "Mexico"} & set(ents)


def test_a_capital_acting_for_its_government_is_the_country() -> None:
    """"Beijing retaliated" and "talks with Kabul" name the state; "a rally in Washington" and "Washington-based"
    are places (metonymy.py)."""
    ents = _by_name("", "Beijing retaliated on Monday. Envoys held talks with Kabul. A rally in Washington drew a "
                        "Washington-based group.")
    assert ents["China"].mentions == 1 and ents["Afghanistan"].mentions == 1
    assert "United States" not in ents


def test_native_language_forms_match() -> None:
    """Chinese gazetteer forms are found without word boundaries."""
    ents = _by_name("", "国家网信办发布新规，习近平出席。")
    assert ents["Cyberspace Administration of China"].mentions == 1
    assert ents["Xi Jinping"].id == "Q15031"


def test_people_and_orgs_outside_gazetteer_with_surname_merge() -> None:
    """Title/speech cues find unknown people, suffixes find unknown orgs, and later surnames merge into full names."""
    ents = _by_name("", "Chief executive Jane Doerr said Quantix Labs would appeal. Doerr added that the "
                        "University of Lagos agreed. according to Priya Raman, the director of the institute.")
    assert ents["Jane Doerr"].mentions == 2 and ents["Jane Doerr"].id == "person.jane_doerr"
    assert ents["Quantix Labs"].type == "org" and ents["Quantix Labs"].source == "pattern"
    assert ents["University of Lagos"].type == "org"
    assert ents["Priya Raman"].type == "person"


def test_middle_initials_and_list_neighbours() -> None:
    """Middle initials stay in a name; an uncued full name listed next to a found person or org takes its type."""
    ents = _by_name("", "The panel heard Harold T. Quenby , Ottoline Vasquez , Rembert Okafor . "
                        "Donors were the Quantix Foundation , Hollow Pine Estates .")
    assert ents["Harold T. Quenby"].type == "person"
    assert ents["Ottoline Vasquez"].type == "person" and ents["Rembert Okafor"].type == "person"
    assert ents["Hollow Pine Estates"].type == "org"


def test_uncued_capitalised_words_are_not_people() -> None:
    """Capitalised words without a cue, job titles and place names do not become people."""
    ents = _by_name("", "Silicon Valley said nothing. Meanwhile Chief Strategy Officer roles grew. "
                        "The White House said no.")
    assert not [e for e in ents.values() if e.type == "person"]


def test_entities_sorted_by_mentions() -> None:
    """The output is ordered by mention count, most first."""
    ents = extract_entities("", "OpenAI and OpenAI and OpenAI and Anthropic.", load_gazetteer())
    assert [e.mentions for e in ents] == sorted((e.mentions for e in ents), reverse=True)
    assert ents[0].name == "OpenAI"


def test_senate_story_finds_senators() -> None:
    """The real Verge Senate-moratorium story yields Ted Cruz (gazetteer, merged surnames) and Marsha Blackburn
    (pattern)."""
    story = load_story("verge-senate-ai-moratorium")
    ents = _by_name(story["title"], story["text"])
    assert ents["Ted Cruz"].source == "gazetteer" and ents["Ted Cruz"].mentions >= 2
    assert ents["Marsha Blackburn"].type == "person" and ents["Marsha Blackburn"].mentions >= 3


@pytest.mark.parametrize("story", all_stories(), ids=lambda s: s["title"][:40] or s["source"].get("url", "")[-40:])
def test_golden_entities(story: dict) -> None:
    """Each golden story's entities match its expected file (regenerate.py rewrites them after intended changes)."""
    got = [{"id": e.id, "name": e.name, "type": e.type, "qid": e.qid, "mentions": e.mentions, "source": e.source,
            "role": e.role} for e in extract_entities(story["title"], story["text"], load_gazetteer())]
    assert got == story["expected"]["entities"], f"run tests/golden/enrich/regenerate.py if intended ({GOLDEN})"


def test_golden_files_are_valid_json_with_sources() -> None:
    """Every golden story names its source corpus and licence."""
    for path in GOLDEN.glob("*.json"):
        story = json.loads(path.read_text(encoding="utf-8"))
        assert story["source"]["corpus"] and story["source"]["licence"], path.name


def test_packaged_data_loads_without_yaml_traps() -> None:
    """Every packaged gazetteer entry has whole values and every country code is a string (no YAML `NO` -> false)."""
    gaz = load_gazetteer()
    text = "Norway and Norwegian officials met the Department for Science, Innovation and Technology."
    found = {e.id: e.name for e in extract_entities("", text, gaz)}
    assert found.get("NO") == "Norway"
    assert "Department for Science, Innovation and Technology" in found.values()


def test_and_splits_two_names_but_not_one_organisation() -> None:
    """"and" between two people or two complete organisations splits them; inside one organisation name it stays."""
    ents = _by_name("", "Ottoline Vasquez and Rembert Okafor said so . "
                        "Funding came from Bright Horizon Trust and Hollow Pine Partners . "
                        "Officials of the Food and Drug Administration and the Ministry of Science and Technology "
                        "met the American Academy of Arts and Sciences .")
    assert ents["Ottoline Vasquez"].type == "person" and ents["Rembert Okafor"].type == "person"
    assert ents["Bright Horizon Trust"].type == "org" and ents["Hollow Pine Partners"].type == "org"
    for org in ("Food and Drug Administration", "Ministry of Science and Technology",
                "American Academy of Arts and Sciences"):
        assert ents[org].type == "org", org


def test_events_journals_and_object_suffixes_are_not_organisations() -> None:
    """Conference and journal names, and a suffix word that is only an object ("Machine for Assembly"), are no orgs."""
    ents = _by_name("", "It was shown at the Conference on Neural Information Processing Systems , published in the "
                        "Journal of Quantix Systems and ran on the Programmable Universal Machine for Assembly .")
    assert not [e for e in ents.values() if e.type == "org"]


def test_member_of_organisation_keeps_only_the_organisation() -> None:
    """"Fellow of X" and "Person of X" yield the organisation X; the "on" complement of a suffix stays in the name."""
    ents = _by_name("", "She is a Fellow of Quantix Research Institute . Harold Quenby of Nagoya University spoke to "
                        "the International Committee on Computational Linguistics .")
    assert ents["Quantix Research Institute"].type == "org"
    assert ents["Nagoya University"].type == "org"
    assert ents["International Committee on Computational Linguistics"].type == "org"
    assert not any(n.startswith(("Fellow", "Harold")) and e.type == "org" for n, e in ents.items())


def test_a_cited_outlet_told_in_the_progressive_is_a_source() -> None:
    """"telling X" cites X as "told X" does: an outlet only ever told things is a source, not a subject."""
    ents = _by_name("Dating app adds checks", "The app will scan faces, Axios reported on Monday. The test "
                    "went well, with its safety chief Ottoline Vasquez telling Axios that results improved.")
    assert ents["Axios"].role == "source" and ents["Axios"].mentions == 2
    assert ents["Ottoline Vasquez"].role == "subject"


def test_a_team_before_a_players_role_is_not_a_person() -> None:
    """A lone word before a player's role ("Steelers quarterback", "Browns defensive end") names the team."""
    ents = _by_name("", "Late in the game, Browns defensive end Myles Garrett pulled off Steelers quarterback Mason "
                        "Rudolph's helmet.")
    people = {n for n, e in ents.items() if e.type == "person"}
    assert {"Myles Garrett", "Mason Rudolph"} <= people
    assert "Browns" not in people and "Steelers" not in people
