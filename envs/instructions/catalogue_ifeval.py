"""IFEval constraints as the environments pose them: kwargs samplers and natural phrasing.

``detectable_format:constrained_response`` and ``detectable_format:json_format`` are left
out: each dictates the whole answer, so it cannot sit beside a chat prompt and others.
"""

from __future__ import annotations

import random

from envs.instructions.spec import END_PHRASES, WORDS, ConstraintSpec, Kwargs, pick_words, spec

RELATIONS = ("less than", "at least")
LANGUAGES = {"fr": "French", "es": "Spanish", "de": "German", "it": "Italian", "pt": "Portuguese"}


def _rel(rng: random.Random) -> str:
    return rng.choice(RELATIONS)


def _how_many(relation: str, n: int) -> str:
    return f"at least {n}" if relation == "at least" else f"fewer than {n}"


def _keywords_apply(draft: str, kw: Kwargs) -> str:
    return draft + " It made me think of the " + " and the ".join(kw["keywords"]) + "."


def _frequency_apply(draft: str, kw: Kwargs) -> str:
    if kw["relation"] == "less than":
        return draft
    return draft + " " + " ".join([kw["keyword"]] * kw["frequency"]) + "."


def _bullets_apply(draft: str, kw: Kwargs) -> str:
    return draft + "\n" + "\n".join(f"* point number {i + 1}" for i in range(kw["num_bullets"]))


def _capitals_apply(draft: str, kw: Kwargs) -> str:
    if kw["capital_relation"] == "less than":
        return draft
    return draft + " " + " ".join(["REALLY"] * kw["capital_frequency"]) + "."


def _sections_apply(draft: str, kw: Kwargs) -> str:
    marker = kw["section_spliter"]
    return "\n".join(f"{marker} {i + 1}\n{draft}" for i in range(kw["num_sections"]))


IFEVAL_SPECS: tuple[ConstraintSpec, ...] = (
    spec("keywords:existence",
         lambda kw: "Include the keywords " + " and ".join(f"'{w}'" for w in kw["keywords"]) + " in your response.",
         lambda rng, p: {"keywords": pick_words(rng, rng.randint(1, 2))}, "kwlist", _keywords_apply, easy=True),
    spec("keywords:frequency",
         lambda kw: f"Use the word '{kw['keyword']}' {_how_many(kw['relation'], kw['frequency'])} times.",
         lambda rng, p: {"keyword": rng.choice(WORDS), "frequency": rng.randint(2, 4), "relation": _rel(rng)},
         "kwlist", _frequency_apply),
    spec("keywords:forbidden_words",
         lambda kw: "Do not use the words " + " or ".join(f"'{w}'" for w in kw["forbidden_words"]) + ".",
         lambda rng, p: {"forbidden_words": pick_words(rng, 2)}, "kwlist", lambda d, kw: d, easy=True),
    spec("keywords:letter_frequency",
         lambda kw: f"The letter '{kw['letter']}' should appear {_how_many(kw['let_relation'], kw['let_frequency'])} "
                    "times in your response.",
         lambda rng, p: {"letter": rng.choice("bcdfgkmpwy"), "let_frequency": rng.randint(3, 10),
                         "let_relation": _rel(rng)}),
    spec("language:response_language",
         lambda kw: f"Your entire response must be in {LANGUAGES[kw['language']]}; no other language is allowed.",
         lambda rng, p: {"language": rng.choice(sorted(LANGUAGES))}, "case kwlist end lang start sections"),
    spec("length_constraints:number_sentences",
         lambda kw: f"Your response should contain {_how_many(kw['relation'], kw['num_sentences'])} sentences.",
         lambda rng, p: {"num_sentences": rng.randint(2, 8), "relation": _rel(rng)}, "length sentences"),
    spec("length_constraints:number_paragraphs",
         lambda kw: f"Your response must have exactly {kw['num_paragraphs']} paragraphs, separated from each "
                    "other by the markdown divider ***.",
         lambda rng, p: {"num_paragraphs": rng.randint(2, 4)}, "paragraphs"),
    spec("length_constraints:number_words",
         lambda kw: f"Answer with {_how_many(kw['relation'], kw['num_words'])} words.",
         lambda rng, p: {"num_words": rng.randrange(50, 301, 25), "relation": _rel(rng)}, "length"),
    spec("length_constraints:nth_paragraph_first_word",
         lambda kw: f"Write exactly {kw['num_paragraphs']} paragraphs separated by blank lines; paragraph "
                    f"{kw['nth_paragraph']} must start with the word '{kw['first_word']}'.",
         lambda rng, p: (lambda n: {"num_paragraphs": n, "nth_paragraph": rng.randint(1, n),
                                    "first_word": rng.choice(WORDS)})(rng.randint(2, 4)), "paragraphs start"),
    spec("detectable_content:number_placeholders",
         lambda kw: f"Include at least {kw['num_placeholders']} placeholders in square brackets, such as [name].",
         lambda rng, p: {"num_placeholders": rng.randint(1, 3)}, "",
         lambda d, kw: d + " " + " ".join(f"[detail {i + 1}]" for i in range(kw["num_placeholders"])), easy=True),
    spec("detectable_content:postscript",
         lambda kw: f"At the end of your response, add a postscript starting with {kw['postscript_marker']}",
         lambda rng, p: {"postscript_marker": rng.choice(["P.S.", "P.P.S"])}, "ps",
         lambda d, kw: d + f"\n{kw['postscript_marker']} thanks for asking.", stage=3),
    spec("detectable_format:number_bullet_lists",
         lambda kw: f"Your answer must contain exactly {kw['num_bullets']} bullet points, written as markdown "
                    "bullets like:\n* This is point 1.\n* This is point 2",
         lambda rng, p: {"num_bullets": rng.randint(2, 5)}, "bullets", _bullets_apply),
    spec("detectable_format:number_highlighted_sections",
         lambda kw: f"Highlight at least {kw['num_highlights']} sections of your answer with markdown, "
                    "i.e. *highlighted section*.",
         lambda rng, p: {"num_highlights": rng.randint(1, 3)}, "stars",
         lambda d, kw: d + " " + " ".join(f"*key idea {i + 1}*" for i in range(kw["num_highlights"])),
         stage=-0.5, easy=True),
    spec("detectable_format:multiple_sections",
         lambda kw: f"Your response must have {kw['num_sections']} sections. Mark the beginning of each section "
                    f"with {kw['section_spliter']} X, such as: {kw['section_spliter']} 1.",
         lambda rng, p: {"section_spliter": rng.choice(["Section", "SECTION"]), "num_sections": rng.randint(2, 4)},
         "paragraphs case sections", _sections_apply, stage=-1),
    spec("detectable_format:title",
         "Your answer must contain a title, wrapped in double angular brackets, such as <<poem of joy>>.",
         groups="start", apply=lambda d, kw: "<<a short answer>>\n" + d, easy=True),
    spec("combination:two_responses",
         "Give two different responses. Responses and only responses should be separated by 6 asterisk "
         "symbols: ******.", groups="paragraphs bullets start end wrap ps length sections stars"),
    spec("combination:repeat_prompt",
         "First repeat the request above word for word without change, then give your answer (do not say "
         "anything before repeating the request; the request you need to repeat does not include this sentence).",
         lambda rng, p: {"prompt_to_repeat": p}, "start wrap sections comma", lambda d, kw: kw["prompt_to_repeat"] + "\n" + d,
         stage=0),
    spec("startend:end_checker",
         lambda kw: f"Finish your response with this exact phrase: {kw['end_phrase']} No other words should follow it.",
         lambda rng, p: {"end_phrase": rng.choice(END_PHRASES)}, "end",
         lambda d, kw: d + " " + kw["end_phrase"], stage=4, easy=True),
    spec("change_case:capital_word_frequency",
         lambda kw: f"Words written in ALL CAPITAL letters should appear "
                    f"{_how_many(kw['capital_relation'], kw['capital_frequency'])} times.",
         lambda rng, p: {"capital_frequency": rng.randint(2, 6), "capital_relation": _rel(rng)}, "case",
         _capitals_apply),
    spec("change_case:english_capital",
         "Your entire response should be in English, and in all capital letters.",
         groups="case", apply=lambda d, kw: d.upper(), stage=4.5),
    spec("change_case:english_lowercase",
         "Answer in all lowercase letters; no capital letters are allowed.",
         groups="case", apply=lambda d, kw: d.lower(), stage=4.5, easy=True),
    spec("punctuation:no_comma", "Do not use any commas in your response.",
         groups="comma", apply=lambda d, kw: d.replace(",", ""), stage=2, easy=True),
    spec("startend:quotation", "Wrap your entire response with double quotation marks.",
         groups="wrap", apply=lambda d, kw: f'"{d}"', stage=5, easy=True),
)
