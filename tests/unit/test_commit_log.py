"""`event_store.commit_log.CommitLog`: what a topic-filtered reader may pass over without
reading, and the known head, against the feed it stands for (every id, whose commit it
belongs to and the commit's topics, including ids other processes gave)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from event_store.commit_log import CommitLog

TOPICS = ("a", "b", "c")


@dataclass
class Feed:
    """The feed as committed: per id, (this process's commit number or None, its topics)."""

    ids: dict[int, tuple[int | None, frozenset[str]]] = field(default_factory=dict)
    commits: list[tuple[int, int]] = field(default_factory=list)  # ours: (first, last)

    @property
    def head(self) -> int:
        return len(self.ids)

    def commit(self, size: int, topics: frozenset[str], ours: bool) -> list[int]:
        ids = list(range(self.head + 1, self.head + 1 + size))
        number = len(self.commits) if ours else None
        if ours:
            self.commits.append((ids[0], ids[-1]))
        for i in ids:
            self.ids[i] = (number, topics)
        return ids


commits = st.lists(
    st.tuples(
        st.integers(1, 3),  # events in the commit
        st.frozensets(st.sampled_from(TOPICS), min_size=1),
        st.booleans(),  # committed by this process (else by another: never added)
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(
    commits,
    st.integers(1, 40),  # commits remembered
    st.integers(0, 90),  # the reader's position
    st.frozensets(st.sampled_from(TOPICS)),  # what it reads
)
def test_a_reader_passes_only_this_process_commits_of_other_topics(
    made: list[tuple[int, frozenset[str], bool]], remembered: int, start: int, reads: frozenset[str]
) -> None:
    feed, log = Feed(), CommitLog(remembered)
    for size, topics, ours in made:
        ids = feed.commit(size, topics, ours)
        if ours:
            log.add(ids, topics)
    position = min(start, feed.head)
    passed = log.passable(position, reads)
    assert position <= passed <= feed.head
    kept = feed.commits[-remembered:]
    for i in range(position + 1, passed + 1):  # never over another's id, nor one it reads
        number, topics = feed.ids[i]
        assert number is not None
        assert feed.commits[number] in kept
        assert topics.isdisjoint(reads)
    if passed < feed.head:  # and as far as that goes, from a commit's first id
        number, topics = feed.ids[passed + 1]
        assert (
            number is None
            or feed.commits[number] not in kept
            or not topics.isdisjoint(reads)
            or feed.commits[number][0] != passed + 1
        )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("ours"), st.integers(1, 3)),
            st.tuples(st.just("theirs"), st.integers(1, 3)),
            st.tuples(st.just("look"), st.just(0)),
            st.tuples(st.just("late look"), st.just(0)),  # read before the last commit
            st.tuples(st.just("lost"), st.just(0)),  # the watcher failed or stopped
        ),
        max_size=30,
    )
)
def test_the_known_head_never_says_nothing_is_there_when_something_is(
    steps: list[tuple[str, int]],
) -> None:
    """Between the watcher's looks, another process's commits are not known (the watcher wakes
    the readers once it saw them, having raised the head first); everything else is: a reader
    at any position before the head that this process or a look has seen is told to read."""
    feed, log = Feed(), CommitLog()
    seen = 0  # the highest id this process has been told of (its commits, the looks)
    known, before = False, 0  # the head before the last commit
    for kind, size in steps:
        if kind in ("ours", "theirs"):
            before = feed.head
        if kind == "ours":
            log.add(feed.commit(size, frozenset("a"), True), "a")
            seen = max(seen, feed.head)
        elif kind == "theirs":
            feed.commit(size, frozenset("a"), False)
        elif kind == "look":
            log.observe(feed.head)
            seen, known, before = max(seen, feed.head), True, feed.head
        elif kind == "late look":  # the watcher read the head, then a commit, then it told
            log.observe(before)
            seen, known, before = max(seen, before), True, feed.head
        else:
            log.observe(None)
            known = False
        for position in range(feed.head + 1):
            if not known or position < seen:
                assert log.behind(position)
            if known and position >= feed.head:
                assert not log.behind(position)


def test_a_commit_whose_ids_are_not_consecutive_is_not_remembered() -> None:
    log = CommitLog()
    log.add([1, 2, 4], "b")
    assert log.passable(0, frozenset("a")) == 0
    log.add([], "b")
    assert log.passable(0, frozenset("a")) == 0
