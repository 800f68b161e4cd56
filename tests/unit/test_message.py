"""Messages as data: what Slack and the terminal each make of the same message."""

from __future__ import annotations

from bot.commands.incident import page_target
from bot.domain.message import Channel, Code, GroupMention, Link, Mention, Message, Sign, Strong
from bot.shell.text import text
from bot.slack.mrkdwn import escape, mrkdwn
from bot.store.messages import legacy_message, message_data, message_of


def test_user_text_cannot_ping_or_link_in_slack() -> None:
    message = Message("reason: ", "<!channel> db down <https://evil.example|login> & more")
    assert mrkdwn(message) == (
        "reason: &lt;!channel&gt; db down &lt;https://evil.example|login&gt; &amp; more"
    )


def test_mentions_are_written_only_for_real_slack_ids() -> None:
    assert mrkdwn(Message(Mention("U0ENGLEAD"))) == "<@U0ENGLEAD>"
    assert mrkdwn(Message(GroupMention("S0SRE"))) == "<!subteam^S0SRE>"
    # A shell user's name, or anything odd, stays text.
    assert mrkdwn(Message(Mention("carol"))) == "carol"
    assert mrkdwn(Message(Mention("U1><!here"))) == "U1&gt;&lt;!here"


def test_emphasis_code_and_links_cannot_be_broken_out_of() -> None:
    assert mrkdwn(Message(Strong("5% *now*"))) == "*5% now*"
    assert mrkdwn(Message(Code("a`b <c>"))) == "`a'b &lt;c&gt;`"
    assert mrkdwn(Message(Link("https://x.example/a|b>", "the <page>"))) == (
        "<https://x.example/a%7Cb%3E|the &lt;page&gt;>"
    )


def test_signs_are_emoji_in_slack_and_words_in_the_terminal() -> None:
    message = Message(Sign.WARNING, "no data for ", Code("error_rate"))
    assert mrkdwn(message) == ":warning: no data for `error_rate`"
    # Code as typed, as the shell has always shown it.
    assert text(message) == "! no data for `error_rate`"
    assert message.plain() == "no data for error_rate"


def test_the_terminal_names_people_with_an_at() -> None:
    message = Message("advanced by ", Mention("U0ENGLEAD"), " and ", Mention("carol"))
    assert text(message) == "advanced by @U0ENGLEAD and @carol"


def test_messages_join_and_add() -> None:
    joined = Message.join(", ", [Mention("U1"), "bob"]) + "."
    assert mrkdwn(joined) == "<@U1>, bob."
    assert not Message("")
    assert escape("a<b>&c") == "a&lt;b&gt;&amp;c"


def test_incident_page_takes_a_mention_an_at_name_or_an_id() -> None:
    assert page_target("<@U0CTO|cto>") == "U0CTO"
    assert page_target("@U0CTO") == "U0CTO"
    assert page_target(" U0CTO ") == "U0CTO"
    assert page_target("ops_lead") == "ops_lead"
    assert page_target("@carol") == "@carol"  # not an id: the service says it is unknown


def test_a_message_kept_as_json_reads_back_the_same() -> None:
    message = Message(
        Sign.ROLLBACK,
        Mention("U1"),
        " in ",
        Channel("C1"),
        ": ",
        Strong("x"),
        Code("y"),
        GroupMention("S1"),
        Link("https://x.example", "z"),
    )
    assert message_of(message_data(message)) == message


def test_timeline_text_from_before_messages_were_data_keeps_its_mentions() -> None:
    old = legacy_message("<@U0BOB|bob>: api-7 is down, see <#C0INC> & <https://x|y>")
    assert mrkdwn(old) == "<@U0BOB>: api-7 is down, see <#C0INC> &amp; &lt;https://x|y&gt;"


def test_strong_words_may_hold_code_in_slack_and_in_the_terminal() -> None:
    heading = Message(Sign.OK, Strong("Rollback of ", Code("chat-v2"), " complete"), " in 3s.")
    assert mrkdwn(heading) == ":white_check_mark: *Rollback of `chat-v2` complete* in 3s."
    assert text(heading) == "OK Rollback of `chat-v2` complete in 3s."
    assert heading.plain() == "Rollback of chat-v2 complete in 3s."
    # Text and code inside stay escaped and cannot end the bold or the code span early.
    hostile = Strong("<!channel> *a*\n", Code("x*`<@U1>"))
    assert mrkdwn(Message(hostile)) == "*&lt;!channel&gt; a `x'&lt;@U1&gt;`*"
    assert mrkdwn(Message(Strong(" ", Code("")))) == ""


def test_strong_words_with_code_keep_their_shape_as_json_and_old_rows_still_read() -> None:
    heading = Message(Strong("ROLLBACK OF ", Code("chat-v2"), " FAILED"), " at step ", Strong("x"))
    data = message_data(heading)
    assert data[0] == {"strong": ["ROLLBACK OF ", {"code": "chat-v2"}, " FAILED"]}
    assert data[2] == {"strong": "x"}  # words alone: the shape rows have always had
    assert message_of(data) == heading
    # An outbox row or timeline entry written when the code was backticks inside the words.
    old = message_of([{"strong": "Rollback of `chat-v2` complete"}])
    assert old == Message(Strong("Rollback of `chat-v2` complete"))
    assert mrkdwn(old) == "*Rollback of `chat-v2` complete*"
