"""The one English stopword list socialcare's text features share, and their token memo.

Report term counts, knowledge-base queries and the learned triage model's
features all skip these words: a classic English list (with and without
apostrophes, since some tokenizers split "don't" into "don" and "t"), plus chat
filler ("pls", "lol", "thx"). "down" is kept out on purpose: "app is down" is
the complaint.
"""

from __future__ import annotations

from itertools import chain
from typing import Callable

__all__ = [
    "OTHER_LANGUAGE_FUNCTION_WORDS",
    "STOPWORDS",
    "TOKEN_MEMO_LIMIT",
    "fill_new_tokens",
    "memo_words",
]

STOPWORDS = frozenset(
    """
    a about above actually after again against ago ah all already also always am amp an and any
    anybody anyone anything anyway are aren aren't arent as asap at back basically be because
    been before being below between bit both btw but by can can't cannot cant cheers could
    couldn couldn't d dear did didn didn't didnt do does doesn doesn't doesnt doing don don't
    dont during each either else even ever every everyone few ffs fine folks for from further
    fyi get gets getting going gonna got guys had hadn hadn't has hasn hasn't have haven haven't
    having he hello her here hers herself hey hi him himself his hiya hmm how however i i'd i'll
    i'm i've id if im in into is isn isn't isnt it it's its itself ive just keep keeping keeps
    kept know last let let's like literally ll lmao lol lot m made make makes many me might mine
    more most much must mustn mustn't my myself need needs never no nope nor not now of off oh
    ok okay omg on once one only or other ought our ours ourselves out over own please pls plz
    re really right rt s said same say saying says see shall shan shan't she should shouldn
    shouldn't since smh so some somebody someone something sort still stuff such sure t take
    takes tbh team tell than thank thanks that that's thats the their theirs them themselves
    then there there's theres these they they'd they'll they're they've thing things this those
    though through thx to today tomorrow too took tried try trying two ty u uh um under until up
    upon ur us ve very via wanna want wanted was wasn wasn't wasnt way we we'd we'll we're we've
    well were weren weren't what what's when where whether which while who whom whose why will
    with won won't wont would wouldn wouldn't wtf y yeah yep yes yesterday yet yo you you'd
    you'll you're you've your youre yours yourself yourselves
    """.split()
)

#: the commonest function words (articles, pronouns, prepositions, conjunctions, auxiliaries)
#: of the other languages customers write to brands in, for report term lists only: "que",
#: "les" and "der" top a mixed-language complaint list otherwise. Kept out of STOPWORDS,
#: which also shapes the learned model's features and knowledge-base queries. Words that
#: are also English content words ("die", "son", "met", "plus", "est", "con", "sea", "ton",
#: "os") are left out.
OTHER_LANGUAGE_FUNCTION_WORDS = frozenset(
    """
    al algo aqui así como cual cuando del desde donde el ella ellos en entre era es
    esa ese eso esta estaba estamos están este esto estoy fue ha hace han hay la las le les
    lo los más me mi muy nada ni nos nosotros para pero por porque qué que quien se ser
    si sobre su sus también tengo tiene todo todos tu un una uno unos usted ya yo
    après au aucun aussi autre aux avec avoir c'est ce cela ces cette chez comme dans des du
    elle elles et été être eux fait il ils je leur leurs lui mais même mes moi mon ne
    nous ou où par pas peu peut pour quand qui quoi sa sans ses soit sont sur ta tes toi
    tous tout très tu une vos votre vous
    aber als auch auf aus bei bis bist da damit dann das dass dem der des dich dir doch
    du durch ein eine einem einen einer eines er es euch für hab habe haben ich ihr ihre
    im ist ja jetzt kann kein keine mich mir mit muss nach nicht noch nur oder schon sehr
    sich sie sind über um und uns unser vom von vor warum was weil wenn wer wie wir wird
    wurde zu zum zur
    ao aos às até com da das dele deles do ela elas ele eles em então essa esse está
    estou foi isso já lhe mas meu minha muito na nas não nem no nos nós numa ou
    pela pelo pelos por quando quem são seu sua também tem tenho um uma você vocês
    agli alla alle anche che chi ci coi col cosa dal dalla dei della delle dello
    gli hanno il io lei loro mio nel nella non però perché più questo quella quello sei
    siamo sono suo sua tutto una uno
    aan alle bij dat deze dit een geen heb heeft het hij ik jij kan maar mijn
    niet nog ook omdat onze zijn voor wat wel wij zal ze zich zo
    """.split()
)


#: tokens one memo remembers before it starts again (memory stays bounded)
TOKEN_MEMO_LIMIT = 200_000


def memo_words(
    text: str,
    memo: dict[str, tuple[str, ...]],
    token_words: Callable[[str], tuple[str, ...]],
    raw: list[str] | None = None,
) -> list[str]:
    """The words of ``text`` as its whitespace-separated tokens' words, in order.

    For tokenisers where no word spans whitespace: then each token's words can
    be remembered (``token_words`` must store them in ``memo``), and most tokens
    ("my", "bill", "@AcmeHelp") recur from post to post, so a text costs a few
    dictionary lookups instead of a regex pass. ``raw``: ``text.split()``, when
    the caller has it (the scorer splits each text once for both its tokenisers).
    """
    if raw is None:
        raw = text.split()
    parts = list(map(memo.get, raw))
    if None in parts:
        fill_new_tokens(raw, parts, memo, token_words)
    return list(chain.from_iterable(parts))  # type: ignore[arg-type]


def fill_new_tokens(
    raw: list[str],
    parts: list[tuple[str, ...] | None],
    memo: dict[str, tuple[str, ...]],
    token_words: Callable[[str], tuple[str, ...]],
) -> None:
    """Replace each None in ``parts`` (``memo.get`` of ``raw``) by its token's words.

    Only the new tokens' places are visited, found by ``list.index`` at C speed:
    a text usually has one (an order number), and splitting, looking up and
    hashing the whole text again cost more than the new token itself did.
    """
    if len(memo) >= TOKEN_MEMO_LIMIT:
        memo.clear()  # the words already looked up stay right: a token's words never change
    get, at = memo.get, 0
    for _ in range(parts.count(None)):
        at = parts.index(None, at)
        token = raw[at]
        found = get(token)  # a new token seen twice in the text is in the memo by now
        parts[at] = token_words(token) if found is None else found
        at += 1
