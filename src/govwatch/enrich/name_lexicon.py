"""Word lists and packaged name lists used by govwatch.enrich.names (titles, cues, organisation words, given names
and family names). Data files and their sources: data/PROVENANCE.md."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

# Words that are capitalised only because they start a sentence or a heading; never part of a name.
STOP_CAPS = frozenset("""
A An The This That These Those There Here It Its He She His Her Hers They Their Them We Our Us I You Your My
And But Or Nor So Yet If When While Whereas Although Though Because Since As After Before Until Unless Once
In On At By For From With Without Within Into Onto Over Under About Above Below Between Among Through During
To Of Off Up Down Out Not No Yes All Any Each Every Some Many Most More Much Few Both Either Neither Other
Such What Which Who Whom Whose Why How Where Meanwhile However Moreover Also Still Even Just Only Then Now
Today Yesterday Tomorrow Last Next First Second Third Last Late Early Earlier Later Several Another
Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July
August September October November December Mr Mrs Ms Dr Prof Sir Dame St Read More Photo Image Getty
Reuters AP AFP Click Subscribe Sign Share Follow Advertisement Related Watch Listen Updated Published
Is Are Was Were Be Been Has Have Had Do Does Did Can Could Would Should Might Must Me Just According Asked
Former Regarding
""".split())

# Titles and role words that announce a person name right after them.
TITLES = frozenset("""
President Presidents Premier Chancellor Minister Secretary Senator Sen Rep Representative Congressman
Congresswoman Governor Gov Mayor Judge Justice Commissioner Ambassador Commander General Gen Admiral Lt Col
Colonel Captain Sergeant Pope King Queen Prince Princess Sheikh Emir Lord Lady Sir Dame Dr Prof Professor
Mr Mrs Ms Miss Mx Rev Reverend Chairman Chairwoman Chair Director Speaker Leader Attorney Inspector Officer
Administrator Superintendent Sheriff Prosecutor Coach Manager Adviser Advisor Envoy Treasurer Chairperson
Councillor Councilman Councilwoman Alderman Lieutenant Marshal Archbishop Ayatollah Rabbi Imam Sultan Emperor
Empress Tsar Czar Governor-General Governors-General
MEP MP Deputy Vice Chief Executive Founder CEO CTO CFO COO Spokesperson Spokesman Spokeswoman
president premier chancellor minister secretary senator governor mayor judge justice commissioner ambassador
chairman chairwoman chair director speaker founder co-founder cofounder executive CEO spokesperson spokesman
spokeswoman analyst economist researcher scientist professor lawyer attorney author journalist reporter
leader lawmaker legislator MEP MP envoy adviser advisor czar candidate representative
Professors Senators Generals Ministers Judges Drs Incumbent incumbent nominee challenger activist actor actress
singer rapper comedian novelist writer poet philosopher historian physicist mathematician businessman
businesswoman entrepreneur investor quarterback coach manager striker politician diplomat officials official
""".split())
# A peer's or monarch's style that is part of the name when one name follows it ("Lord Hopetoun", "Queen
# Beatrix", "Prince Harry"); other titles are never part of a name.
NOBLE_TITLES = frozenset({"Lord", "Lady", "King", "Queen", "Prince", "Princess"})
# Party members before a name ("Democrat Ron Wyden", "Republican Bob Packwood"): a cue only for a full name
# after them, since "Liberal Democrats" or "Republican leadership" follow these words too.
PARTY_TITLES = frozenset({"Democrat", "Republican", "Conservative", "Liberal", "Labour", "Socialist", "Tory",
                          "Green", "Independent"})

SPEECH_AFTER = frozenset({"said", "says", "told", "added", "wrote", "argued", "noted", "explained",
                          "warned", "stated", "announced", "tweeted", "posted", "testified", "believes",
                          "telling", "saying", "argues", "writes", "recalled", "insisted"})
SPEECH_BEFORE = frozenset({"said", "says", "added", "wrote"})
# Verbs that only people take, after a full name ("Bob Dole resigned") or even a lone surname ("Čapek was born",
# "Terzopoulos was awarded"); a company is not born, elected, knighted or married. Two-word forms are matched on
# the next two tokens.
PERSON_VERBS = frozenset({"died", "resigned", "married", "graduated", "invented", "retired", "was born",
                          "was elected", "was re-elected", "was awarded", "was knighted", "was appointed",
                          "was educated", "is a Fellow", "was a Fellow", "became a Fellow", "served as",
                          "studied", "was sworn", "was nominated", "received his", "received her"})
ADVERBS = frozenset({"also", "later", "then", "subsequently", "previously", "first", "again", "eventually", "never",
                     "once", "unsuccessfully", "successfully", "briefly", "personally", "himself", "herself"})
# Abbreviated titles, whose dot is its own token: "Sen. X" (a full title word before a sentence end is not one:
# "... the Attorney General. According to ...").
ABBREVIATED_TITLES = frozenset({"Sen", "Rep", "Gov", "Gen", "Lt", "Col", "Dr", "Prof", "Mr", "Mrs", "Ms", "Mx", "Rev",
                                "Sgt", "Capt", "Adm", "Maj", "Pres", "Supt", "Insp", "Det", "Cllr"})


# "published by X", "founded by X": a cue for a full name after "by" that has a given name or a name shape.
BY_VERBS = frozenset({"founded", "co-founded", "written", "directed", "published", "proposed", "proved",
                      "developed", "invented", "introduced", "started", "created", "led", "chaired", "coined",
                      "designed", "appointed", "defeated", "succeeded", "replaced", "hosted", "produced"})
# Capitalised words that make a cued run a place, building or outlet rather than a person
# ("the White House said", "Silicon Valley said").
NON_PERSON_WORDS = frozenset("""
House Street Valley Hill Road City State States Airlines Cloud Media News AI Tech Bay River Island Capitol
North South East West Northern Southern Eastern Western Kingdom Republic Hall Square Park Avenue Bridge
Dynasty County Province Empire Prize Award Awards Medal Cup Station Airport Tower Temple Palace Castle Mountain
Mountains Lake Sea Ocean Gulf Strait Peninsula District Campaign War Revolution Rebellion Treaty Accord Act
Summit Conference Symposium Workshop Forum Festival Games Olympics Championship Championships Theater Theatre
Notices Proceedings Letters Transactions Store Stores Shop Market Mall Music Exchange App Apps
""".split())
# Lower-case nouns that make the capitalised word before them a team, company or brand, not a person
# ("Steelers quarterback Mason Rudolph", "Google spokesperson"): a lone word the CRF calls a person is dropped.
AFTER_NON_PERSON = frozenset({"quarterback", "coach", "coaches", "players", "fans", "game", "games", "spokesperson",
                              "spokesman", "spokeswoman", "executives", "shares", "stock", "users", "owners", "end",
                              "linebacker", "receiver", "striker", "midfielder", "defender", "goalkeeper", "pitcher"})
COMPASS = frozenset({"North", "South", "East", "West"})
# Words right before a list of performers' names ("The film stars Vijay, Keerthy Suresh and ...").
PERSON_BEFORE = frozenset({"stars", "starring", "featuring", "portrays", "portrayed", "voiced", "actor", "actress",
                           "actors", "singer", "singers", "rapper", "interviewed", "hosted"})
# Common romanised Chinese, Korean and Vietnamese family names, which come first: "Li Qiang", "Kim Jong-hyun",
# "Nguyen Van Thanh". A two- or three-word run starting with one of them and followed by short capitalised
# syllables is a person (written by govwatch from general knowledge; East Asian given names are too open a set
# to list).
FAMILY_FIRST = frozenset("""
Li Wang Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Lin Luo Gao Zheng Liang Xie Tang Han Feng
Deng Cao Peng Zeng Xiao Tian Dong Pan Yuan Cai Jiang Yu Du Ye Cheng Wei Su Lu Ding Ren Shen Yao Fu Zhong Cui Tan
Fan Jin Shi Liao Jia Xia Fang Bai Zou Meng Xiong Qin Qiu Hou Yin Xue Yan Duan Lei Tao Mao Gu Kong Lai Lien Yen
Chiang Chang Chou Hsu Kuo Lee Lam Leung Wong Chan Ng Cheung Tsai Hsieh Chu Wen Qian Kim Park Choi Jung Kang Cho
Yoon Jang Lim Shin Seo Kwon Hwang Ahn Yoo Jeon Moon Baek Nguyen Tran Pham Hoang Phan Vu Vo Dang Bui Ngo Duong
""".split())
FAMILY_FIRST_WORDS = frozenset({"Park", "Moon", "Song", "Fan", "Long", "Young", "Kong", "Wei", "Ma", "Chu", "Lam",
                                "Ng", "Jin", "Shin", "Han", "Tan", "Dong", "Gao", "Yu", "Su", "Lu", "Du", "Gu"})
# A regnal number after a name ("Charles III", "Henry IV", "Adlai Stevenson II"): capitals, but not an acronym.
REGNAL_RE = re.compile(r"(?=[IVX])X{0,3}(?:IX|IV|V?I{0,3})")
# Arabic name particles joined to the next name by a hyphen ("Loujain al-Hathloul", "Mohammed bin-Salman").
PARTICLE_NAME_RE = re.compile(r"(?:al|el|ad|ash|as|at|az|bin|ibn|abu|bint)-[A-Z]")

# Role nouns of an appositive ("X, the chief executive of Y", "X, a professor at Y").
APPOSITIVE_ROLES = frozenset("""
chief executive ceo president founder co-founder cofounder director head chair chairman chairwoman partner
professor researcher scientist analyst economist spokesperson spokesman spokeswoman minister secretary senator
governor lawyer attorney author editor reporter official commissioner member leader manager engineer
""".split())

ORG_SUFFIXES = frozenset("""
Inc Ltd Corp Corporation Co LLC LLP PLC plc GmbH AG SA SAS NV BV Group Holdings Agency Commission University
Institute Institution Council Authority Association Foundation Bank Party Committee Department Ministry Office
Court Board Bureau Union Organization Organisation Centre Center Lab Labs Laboratory Laboratories Academy
Motors Hospital Movement Front Industries Pharmaceuticals Airways Airlines Studios Pictures Entertainment
Broadcasting Endowment Regulator Watchdog Microsystems Semiconductor Semiconductors Robotics Software Electronics
Dynamics Therapeutics Biosciences Aerospace Analytics Solutions Communications Telecom Bancorp Insurance Greens
Sena Parishad Samiti Sangh Dal Museum Bros Brothers Research
Society Federation League Company Technologies Systems Networks Partners Capital Ventures Fund Trust School
College Parliament Assembly Congress Senate Service Services Administration Alliance Coalition Consortium
Forum Network Project Initiative Times Post Journal Tribune Herald Gazette Press Review Magazine Embassy Police
""".split())
ORG_HEADS = frozenset({"Ministry", "Department", "University", "Institute", "Office", "Bank", "Court",
                       "Board", "Bureau", "Council", "Agency", "Commission", "Academy", "Federation",
                       "Association", "Organization", "Organisation", "League", "Centre", "Center",
                       "Party", "School", "College", "Church", "Union", "Parliament", "Assembly", "Senate",
                       "Congress", "Chamber", "Alliance", "Front", "Movement", "Society", "Museum", "Foundation",
                       "Institution"})
# Names shaped like an organisation's that are states ("Soviet Union") or regions.
NOT_ORGS = frozenset({"Soviet Union", "The Soviet Union", "Union of South Africa", "Latin America"})
# Head words of events and publications, whose names often end like an organisation's ("... Systems").
EVENT_HEADS = frozenset({"Conference", "Symposium", "Workshop", "Summit", "Advances"})
# Words naming a member or office-holder of the organisation after "of" ("Fellow of ...", "President of ...").
MEMBER_WORDS = TITLES | {"Fellow", "Fellows", "Member", "Members", "Head", "Manager", "Managing", "Senior",
                          "General", "Associate", "Assistant", "Partner", "Global", "Regional"}
CONNECTORS = frozenset({"of", "for", "and", "&", "the", "on", "de", "du", "des", "la", "le", "der", "für"})
PARTICLES = frozenset({"de", "da", "van", "von", "der", "den", "bin", "al", "el", "del", "di", "du", "le", "la"})
# Title words that are never surnames, so a run holding one is a job title, not a name ("Prince" and "King" are
# surnames too: Matthew Prince, Martin Luther King).
ROLE_WORDS = TITLES - {"King", "Queen", "Prince", "Princess", "Lord", "Lady", "Justice", "General", "Judge"}
LIST_SEPARATORS = ([","], ["and"], [",", "and"])
GIVEN_NAME_FILES = ("first_names.txt", "census_first_names.txt")
# Verbs after a sentence-initial surname that make it the person the sentence is about ("Hayes has served",
# "Sowa received"); only for words in the surname list that are not given names.
SUBJECT_VERBS = frozenset({"has", "had", "was", "is", "served", "received", "became", "joined", "won", "lost",
                           "ran", "moved", "left", "returned", "studied", "wrote", "argued", "founded", "worked",
                           "taught", "retired", "stood", "contested", "campaigned"})
MAX_PERSON_TOKENS = 4  # "Luiz Inácio Lula da Silva" is five with the particle; longer runs are headlines
SENTENCE_ENDS = frozenset({".", "!", "?", ":", ";", '"', "\u201c", "(", "\n"})


@lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    """The packaged given names: the hand-written list plus the filtered 1990 US Census list (data/PROVENANCE.md)."""
    out: set[str] = set()
    for fname in GIVEN_NAME_FILES:
        raw = resources.files("govwatch.data").joinpath(fname).read_text(encoding="utf-8")
        out.update(w for line in raw.splitlines() if not line.startswith("#") for w in line.split())
    return frozenset(out)


@lru_cache(maxsize=1)
def surnames() -> frozenset[str]:
    """The filtered 1990 US Census family-name list (data/PROVENANCE.md)."""
    raw = resources.files("govwatch.data").joinpath("census_surnames.txt").read_text(encoding="utf-8")
    return frozenset(w for line in raw.splitlines() if not line.startswith("#") for w in line.split())
