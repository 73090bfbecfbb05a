"""The one English stopword list socialcare's text features share.

Report term counts, knowledge-base queries and the learned triage model's
features all skip these words: a classic English list (with and without
apostrophes, since some tokenizers split "don't" into "don" and "t"), plus chat
filler ("pls", "lol", "thx"). "down" is kept out on purpose: "app is down" is
the complaint.
"""

from __future__ import annotations

__all__ = ["STOPWORDS"]

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
