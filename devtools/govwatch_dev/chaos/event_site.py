"""The event scenario's site: stories burst around a few news events, each told in the outlets' own words.

Each news event has its own vocabulary (the company, the figures, the place), its own people and its own ways of
saying what happened: a story picks one of the event's headlines and leads and a few of its body sentences, with
its own numbers and names in the slots, so two stories of one event share facts and names but rarely a sentence,
and two events share neither (event assignment, govwatch.enrich.events, must tell them apart by those alone).
Every story of event ``k`` matches the harness's subscription ``k`` (its query's words are in one body sentence,
``FACTS``) and no other; the other stories come from the shared templates on topics no subscription asks for.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from govwatch_dev.chaos.site import (
    ACTORS,
    PEOPLE,
    PLACES,
    TOPICS,
    WEEKDAYS,
    WIRE_LEADS,
    WIRE_SHARE,
    Story,
    background_story,
    month_boundary,
    published_at,
    wire_copy,
)

EVENT_SHARE = 0.6  # share of the originals that report one of the news events (the rest: other news)
BODY_SENTENCES = 4  # event sentences per story, besides one fact: enough for a page, few enough to differ


@dataclass(frozen=True)
class NewsEvent:
    """One happening as outlets tell it; the slots ``{who}``/``{who_lc}``, ``{person}``/``{role}``,
    ``{n}``/``{n2}``/``{n3}`` and ``{weekday}`` are filled per story."""

    who: tuple[str, ...]  # ways to name the actor, capitalised
    titles: tuple[str, ...]
    leads: tuple[str, ...]
    facts: tuple[str, ...]  # each holds the words of the event's subscription query
    sentences: tuple[str, ...]
    people: tuple[tuple[str, str], ...]  # (name, role) of the people quoted in this event only


EVENTS = (
    NewsEvent(  # subscription 0: "AI Act" AND fines
        who=("The European Commission", "The Commission's AI Office", "EU regulators"),
        titles=("{who} fines Veridian Labs 48 million euros over its Solace model",
                "Veridian Labs hit with a 48 million euro penalty over Solace",
                "First penalty for a chatbot maker: Veridian Labs fined over Solace paperwork",
                "Veridian Labs to appeal 48 million euro fine in Luxembourg",
                "Why the Veridian Labs fine is a test for Brussels"),
        leads=("{who} fined Veridian Labs 48 million euros on {weekday}, its first penalty on a chatbot maker, "
               "saying Solace shipped without the required disclosure of its scraped sources.",
               "Veridian Labs, the Lisbon maker of the Solace chatbot, must pay 48 million euros after {who_lc} "
               "found it hid how Solace was built.",
               "In its first such penalty, {who_lc} ordered Veridian Labs to pay 48 million euros and to disclose "
               "the scraped sources behind Solace within {n} weeks.",
               "Veridian Labs said it would appeal to the General Court in Luxembourg after {who_lc} fined it "
               "48 million euros over the Solace chatbot's missing disclosures."),
        facts=("The AI Act allows fines of up to 3 percent of global turnover for general-purpose model providers.",
               "Lawyers expect more AI Act fines once the AI Office finishes its first {n} model audits.",
               "Veridian Labs is the first company to face one of the AI Act fines; {n} other providers are "
               "under review."),
        sentences=("{person}, {role}, said the Solace case showed that documentation duties are not optional.",
                   "The decision runs to {n3} pages and lists {n} gaps in the model card Veridian filed last year.",
                   "Veridian Labs has {n2} days to publish the missing training-data summary for Solace.",
                   "{person}, {role}, said the company had been warned {n2} times before the decision.",
                   "Solace has about {n} million users in the union, according to the decision.",
                   "The company called the penalty disproportionate and said it had cooperated throughout."),
        people=(("Henrietta Vallin", "the commissioner in charge"), ("Markus Oberholt", "Veridian's chief executive"),
                ("Saskia Lindemann", "a competition lawyer"))),
    NewsEvent(  # subscription 1: "facial recognition" OR biometric*
        who=("The Council of Europe", "Council of Europe ministers", "The Committee of Ministers"),
        titles=("{who} backs a moratorium on live facial recognition by police",
                "Police told to switch off live facial recognition cameras in stadiums and stations",
                "Strasbourg vote halts live facial recognition after wrongful arrests",
                "Live facial recognition moratorium: what it means for police forces"),
        leads=("{who} voted in Strasbourg on {weekday} for a {n}-month moratorium on live facial recognition "
               "by police in stations, stadiums and streets, citing wrongful arrests.",
               "Police forces in {n} member states must switch off live facial recognition cameras after {who_lc} "
               "backed a moratorium proposed by rapporteur Ottavia Brunetti.",
               "A moratorium on police use of live facial recognition won {n} votes in Strasbourg, where {who_lc} "
               "said camera watchlists had led to wrongful arrests."),
        facts=("The moratorium covers facial recognition cameras at stadiums, stations and protests, not passport "
               "gates.",
               "Biometric watchlists compiled by police must be audited before any camera returns.",
               "Forces that keep biometric matching running face suspension of their data-sharing rights."),
        sentences=("{person}, {role}, said wrongful arrests in {n} cities made the moratorium unavoidable.",
                   "Police chiefs had asked for an exemption for missing-children searches; the text grants none.",
                   "Member states have {n2} months to report how many cameras they switched off.",
                   "{person}, {role}, warned that stadium security would suffer during the football season.",
                   "The Strasbourg text was adopted by {n} votes to {n2}.",
                   "{person}, {role}, called the vote a turning point for street policing."),
        people=(("Ottavia Brunetti", "the rapporteur"), ("Pieter Ravenstijn", "a police commissioner"),
                ("Ilse Vandermeer", "a digital-rights campaigner"))),
    NewsEvent(  # subscription 2: "export controls" AND (chips OR semiconductor*)
        who=("The US Commerce Department", "The Bureau of Industry and Security", "Washington"),
        titles=("{who} widens curbs on accelerator shipments to Malaysia and Thailand",
                "Licence now needed for accelerator shipments to Malaysia",
                "Chipmakers scramble as the Malaysia route for accelerators closes",
                "Accelerator smuggling through Malaysia prompts new licence rule"),
        leads=("{who} on {weekday} required a licence for accelerator shipments to Malaysia, after {n} smuggling "
               "cases routed through Penang hit Orvane Micro's customers.",
               "Accelerator shipments to Malaysia now need a licence, {who_lc} said, closing the Penang smuggling "
               "route that Orvane Micro's hardware had taken.",
               "Orvane Micro and other chipmakers must get a licence before selling accelerators in Malaysia, under "
               "a rule {who_lc} announced after smuggling through Penang."),
        facts=("Under the new export controls, chips above {n}0 teraflops need a licence for Malaysia and Thailand.",
               "The export controls also cover semiconductor packaging tools sold to Penang assemblers.",
               "Orders already shipped are exempt from the export controls, but chips in transit are not."),
        sentences=("{person}, {role}, said {n} shipments had been diverted through Penang last year.",
                   "Orvane Micro shares fell {n2} percent after the announcement.",
                   "Malaysian trade officials said they had not been consulted and would seek talks.",
                   "{person}, {role}, said the licence rule takes effect in {n} days.",
                   "Data-centre builders in Johor have {n3} pending orders, according to {person}.",
                   "{person}, {role}, expects licence requests to take {n2} weeks to clear."),
        people=(("Delia Marchetti", "the under secretary for export administration"),
                ("Curtis Ashworth", "Orvane Micro's trade compliance chief"), ("Nadia Rahimova", "a trade lawyer"))),
    NewsEvent(  # subscription 3: deepfake* OR "synthetic political advertising"
        who=("Japan's election council", "Tokyo election officials", "The Central Election Management Council"),
        titles=("{who} orders platforms to pull fake videos of Tokyo governor candidates",
                "Fabricated clips of Tokyo candidates must come down within 24 hours",
                "Tokyo governor race: takedown order for fabricated campaign clips",
                "Platforms get 24 hours to pull fabricated clips before the Tokyo vote"),
        leads=("{who} ordered video platforms on {weekday} to take down fabricated clips of Tokyo governor "
               "candidates within 24 hours, after {n} such videos spread.",
               "Video platforms must remove fabricated clips of Tokyo governor candidates within 24 hours, "
               "{who_lc} said, as doctored campaign videos spread before the vote.",
               "A takedown order from {who_lc} gives platforms 24 hours to pull fabricated videos of Tokyo "
               "governor candidates and to label doctored campaign material."),
        facts=("The order also requires labels on synthetic political advertising until polling day.",
               "Each deepfake clip must be removed within 24 hours of a candidate's complaint.",
               "Platforms must keep copies of every deepfake they remove for {n} days."),
        sentences=("{person}, {role}, said {n} clips had been viewed more than {n3} thousand times.",
                   "Platforms that miss the 24-hour deadline face daily charges, the council said.",
                   "{person}, {role}, called the takedown order overdue.",
                   "Polling stations open in {n2} days; early voting has begun.",
                   "{person}, {role}, said one clip showed her conceding a race she had not lost.",
                   "Two platforms said they had already removed {n} of the videos."),
        people=(("Haruto Kisaragi", "the council's chair"), ("Mariko Fujisawa", "a candidate shown in the videos"),
                ("Ren Takamatsu", "a media-law professor"))),
)
# Other news on an event site: topics no subscription asks for (the AI Act, facial recognition, chips and
# deepfakes are the events' alone), by actors none of the events has.
OTHER_TOPICS = [TOPICS[i] for i in (1, 3, 6, 7, 8, 9)]
EVENT_ACTOR_WORDS = ("European Commission", "AI Office", "Council of Europe", "Commerce", "Japan")
OTHER_ACTORS = [a for a in ACTORS if not any(word in a for word in EVENT_ACTOR_WORDS)]


def _fill(rng: random.Random, template: str, event: NewsEvent, who: str) -> str:
    name, role = rng.choice(event.people)
    text = template.format(who=who, who_lc=who[0].lower() + who[1:] if who.startswith("The ") else who,
                           person=name, role=role, weekday=rng.choice(WEEKDAYS), n=rng.randint(2, 40),
                           n2=rng.randint(2, 19), n3=rng.randint(100, 9000))
    return text[0].upper() + text[1:]


def event_story(rng: random.Random, seed: int, i: int, published: datetime, k: int) -> list[Story]:
    """Original ``i`` reporting news event ``k`` in its own words, and its wire near-copy if it gets one."""
    event = EVENTS[k]
    who = rng.choice(event.who)
    lead = _fill(rng, rng.choice(event.leads), event, who)
    body = [_fill(rng, rng.choice(event.facts), event, who),
            *(_fill(rng, s, event, who) for s in rng.sample(event.sentences, BODY_SENTENCES))]
    rng.shuffle(body)
    paragraphs = (lead, " ".join(body[:2]), " ".join(body[2:]))
    original = Story(slug=f"s{seed}-{i:04d}", feed="main", title=_fill(rng, rng.choice(event.titles), event, who),
                     summary=lead, author=rng.choice(PEOPLE), published=published, paragraphs=paragraphs,
                     footer=f"Reporting by {rng.choice(PEOPLE)} in {rng.choice(PLACES)}.", event=k)
    if rng.random() >= WIRE_SHARE:
        return [original]
    title = f"{rng.choice(WIRE_LEADS)} {_fill(rng, rng.choice(event.titles), event, rng.choice(event.who))}"
    return [original, wire_copy(rng, original, title)]


def generate_events(count: int, seed: int, now: datetime, events: int) -> list[Story]:
    """``count`` originals (plus wire near-copies), about ``EVENT_SHARE`` of them reporting the first ``events``
    news events in turn (so each event gets stories while the site has at least ``events`` of them), in release
    order; dates as on the other sites (across a month boundary, within the 72 h event window)."""
    if not 0 < events <= len(EVENTS):
        raise ValueError(f"events must be 1..{len(EVENTS)}, got {events}")
    rng = random.Random(seed)
    boundary = month_boundary(now)
    stories: list[Story] = []
    reported = 0
    for i in range(count):
        published = published_at(boundary, i, count)
        if rng.random() < EVENT_SHARE:
            stories += event_story(rng, seed, i, published, reported % events)
            reported += 1
        else:
            stories += background_story(rng, seed, i, published, OTHER_TOPICS, OTHER_ACTORS)
    return stories


def news_events(stories: list[Story]) -> set[int]:
    """The news events the given stories report."""
    return {s.event for s in stories if s.event is not None}
