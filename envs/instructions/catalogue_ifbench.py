"""IFBench's out-of-distribution constraints that can sit beside any chat prompt.

Left out: the ``custom:*`` ids and ``repeat:*`` ids (each is a whole task of its own,
not a constraint on another answer), ``ratio:overlap`` (needs a reference text),
``format:options`` and ``format:no_whitespace`` (they dictate the whole answer), and the
two ids the verifier cannot check offline (``ratio:stop_words``, ``words:start_verb``).
"""

from __future__ import annotations

from envs.instructions.spec import WORDS, ConstraintSpec, pick_words, spec

_NAMES = "Emma, Liam, Sophia, Noah, Olivia, Lucas, Mia, Ethan, Grace, Daniel"
_TIMES = ("once", "twice", "three times", "five times", "seven times")


def _ifb(*args, **kwargs) -> ConstraintSpec:
    return spec(*args, family="ifbench", **kwargs)


def _keywords_multiple(rng, prompt):
    return {f"keyword{i + 1}": word for i, word in enumerate(pick_words(rng, 5))}


def _phrase_multiple(kw) -> str:
    parts = [f"'{kw[f'keyword{i + 1}']}' {_TIMES[i]}" for i in range(5)]
    return "Include the keyword " + ", ".join(parts[:-1]) + f" and {parts[-1]} in your response."


IFBENCH_SPECS: tuple[ConstraintSpec, ...] = (
    _ifb("count:word_count_range",
         lambda kw: f"The response must contain between {kw['min_words']} and {kw['max_words']} words.",
         lambda rng, p: (lambda m: {"min_words": m, "max_words": m + rng.randint(10, 40)})(rng.randrange(50, 251, 10)),
         "length"),
    _ifb("count:unique_word_count", lambda kw: f"Use at least {kw['N']} unique words in the response.",
         lambda rng, p: {"N": rng.randrange(30, 121, 10)}),
    _ifb("count:conjunctions",
         lambda kw: f"Use at least {kw['small_n']} different coordinating conjunctions (such as and, but, or, so, yet).",
         lambda rng, p: {"small_n": rng.randint(2, 5)}),
    _ifb("count:person_names",
         lambda kw: f"Mention at least {kw['N']} different person names from this list: {_NAMES}.",
         lambda rng, p: {"N": rng.randint(2, 5)}),
    _ifb("count:numbers", lambda kw: f"Include exactly {kw['N']} numbers in the response.",
         lambda rng, p: {"N": rng.randint(1, 6)}, "digits"),
    _ifb("words:repeats", lambda kw: f"Do not repeat any word more than {kw['small_n']} times.",
         lambda rng, p: {"small_n": rng.randint(2, 5)}, "kwlist"),
    _ifb("sentence:keyword", lambda kw: f"Include the keyword '{kw['word']}' in sentence number {kw['N']} of your response.",
         lambda rng, p: {"word": rng.choice(WORDS), "N": rng.randint(1, 4)}, "kwlist"),
    _ifb("count:pronouns", lambda kw: f"Use at least {kw['N']} pronouns in your response.",
         lambda rng, p: {"N": rng.randint(5, 20)}),
    _ifb("format:list", lambda kw: f"Answer with a list of items; instead of bullet points, start each item with {kw['sep']}",
         lambda rng, p: {"sep": rng.choice(["...", "SEPARATOR", "!?!?", "-"])}, "bullets"),
    _ifb("count:keywords_multiple", _phrase_multiple, _keywords_multiple, "kwlist"),
    _ifb("words:keywords_specific_position",
         lambda kw: f"In sentence number {kw['n']} of your response, word number {kw['m']} must be '{kw['keyword']}'.",
         lambda rng, p: {"keyword": rng.choice(WORDS), "n": rng.randint(1, 4), "m": rng.randint(2, 8)},
         "kwlist start"),
    _ifb("words:words_position",
         lambda kw: f"The second word of your response and the second-to-last word must both be '{kw['keyword']}'.",
         lambda rng, p: {"keyword": rng.choice(WORDS)}, "kwlist start end wrap ps"),
    _ifb("format:title_case", "Write the entire response in title case (capitalize the first letter of every major word).",
         groups="case"),
    _ifb("format:output_template",
         "Use this exact template for your response: My Answer: [answer] My Conclusion: [conclusion] "
         "Future Outlook: [outlook]", groups="case sections"),
    _ifb("format:parentheses", "Nest parentheses (and [brackets {and braces}]) at least 5 levels deep somewhere in your answer."),
    _ifb("format:quotes", "Include quotes within quotes within quotes, at least 3 levels deep, alternating between "
         "double quotes and single quotes.", groups="wrap"),
    _ifb("count:punctuation", "Use every standard punctuation mark at least once, including semicolons, colons, "
         "and the interrobang (?!).", groups="comma"),
    _ifb("format:thesis", "Each section must begin with a thesis statement in italics; use HTML to indicate the italics."),
    _ifb("format:sub-bullets", "Your response must include bullet points denoted by * and at least one sub-bullet "
         "point denoted by - for each bullet point.", groups="bullets stars"),
    _ifb("format:no_bullets_bullets", "Your answer must contain at least two sentences ending in a period, followed by "
         "at least two bullet points denoted by *.", groups="bullets stars end ps wrap paragraphs"),
    _ifb("words:no_consecutive", "No two consecutive words may start with the same letter.", groups="lexical"),
    _ifb("words:paragraph_last_first", "Each paragraph must end with the same word it started with; separate "
         "paragraphs with a newline.", groups="lexical paragraphs end"),
    _ifb("format:line_indent", "Create stairs by indenting each new line a little more than the line before it.",
         groups="paragraphs bullets"),
    _ifb("format:quote_unquote", "Every quoted phrase must be followed by an unquoted explanation.", groups="wrap"),
    _ifb("ratio:sentence_type", "Keep a 2:1 ratio of declarative to interrogative sentences.", groups="sentences"),
    _ifb("ratio:sentence_balance", "Use the same number of declarative, interrogative and exclamatory sentences.",
         groups="sentences"),
    _ifb("words:vowel", "Write a single paragraph using words that contain at most three different vowels.",
         groups="lexical paragraphs"),
    _ifb("words:consonants", "Every word in your response must contain a consonant cluster (two or more consonants "
         "in a row).", groups="lexical"),
    _ifb("words:prime_lengths", "Use only words whose lengths are prime numbers.", groups="lexical"),
    _ifb("format:emoji", "End every sentence with an emoji.", groups="end sentences"),
    _ifb("sentence:increment",
         lambda kw: f"Each sentence must contain exactly {kw['small_n']} more words than the previous one.",
         lambda rng, p: {"small_n": rng.randint(1, 3)}, "sentences length"),
    _ifb("words:last_first", "The last word of each sentence must become the first word of the next sentence.",
         groups="lexical sentences"),
    _ifb("words:odd_even_syllables", "Alternate between words with odd and even numbers of syllables.", groups="lexical"),
    _ifb("count:words_japanese", lambda kw: f"Every word in position {kw['N']}, {2 * kw['N']}, {3 * kw['N']} and so on "
         "must be written in Japanese.", lambda rng, p: {"N": rng.randint(3, 8)}, "lexical"),
    _ifb("words:palindrome", "Include at least 10 single-word palindromes, each at least 5 characters long."),
    _ifb("words:alphabet", "Each word must start with the next letter of the alphabet, looping back to 'A' after 'Z'.",
         groups="lexical"),
    _ifb("format:newline", "Write each word on a new line.", groups="paragraphs lexical bullets"),
    _ifb("sentence:alliteration_increment", "Each sentence must have a longer run of consecutive alliterative words "
         "than the one before.", groups="lexical sentences"),
)

assert len({s.instruction_id for s in IFBENCH_SPECS}) == len(IFBENCH_SPECS)
