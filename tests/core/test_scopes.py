"""Scopes: a grant for a folder covers exactly that folder's real contents; hosts match exactly or by *.suffix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edgemind.core.tools.scopes import Scope, ScopeError, canonical_path, covers, need_host, need_path, parse_scope


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    granted = tmp_path / "granted"
    (granted / "sub").mkdir(parents=True)
    (granted / "sub" / "note.txt").write_text("ok")
    outside = tmp_path / "granted-sibling"
    outside.mkdir()
    (outside / "secret.txt").write_text("nope")
    (granted / "link_out").symlink_to(outside)
    (granted / "file_link_out.txt").symlink_to(outside / "secret.txt")
    return {"granted": granted, "outside": outside}


def test_a_folder_grant_covers_files_inside_it(tree: dict[str, Path]) -> None:
    grant = parse_scope(f"fs.read:{tree['granted']}")
    assert covers(grant, need_path("fs.read", str(tree["granted"] / "sub" / "note.txt")))
    assert covers(grant, need_path("fs.read", str(tree["granted"])))


@pytest.mark.parametrize("escape", [
    "{g}/../granted-sibling/secret.txt",
    "{g}/sub/../../granted-sibling/secret.txt",
    "{g}/link_out/secret.txt",
    "{g}/file_link_out.txt",
    "{o}/secret.txt",
    "/etc/passwd",
    "{g}-sibling/secret.txt",  # a prefix of the granted path is not inside it
])
def test_no_path_escapes_the_granted_folder(tree: dict[str, Path], escape: str) -> None:
    grant = parse_scope(f"fs.read:{tree['granted']}")
    path = escape.format(g=tree["granted"], o=tree["outside"])
    assert not covers(grant, need_path("fs.read", path))


def test_relative_paths_resolve_against_the_given_base_not_the_grant(tree: dict[str, Path]) -> None:
    grant = parse_scope(f"fs.read:{tree['granted']}")
    assert not covers(grant, need_path("fs.read", "../granted-sibling/secret.txt", base=tree["granted"]))
    assert covers(grant, need_path("fs.read", "sub/note.txt", base=tree["granted"]))


@pytest.mark.skipif(os.path.normcase("A") == "a", reason="case-insensitive file system: normcase folds case")
def test_case_tricks_do_not_reach_another_folder_on_a_case_sensitive_disk(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "NOTES").mkdir()
    grant = parse_scope(f"fs.read:{tmp_path / 'notes'}")
    assert not covers(grant, need_path("fs.read", str(tmp_path / "NOTES" / "x.txt")))
    assert not covers(grant, need_path("fs.read", str(tmp_path / "Notes" / "x.txt")))


@pytest.mark.parametrize("bad, words", [
    ("", "empty"),
    ("/tmp/a\x00b", "NUL"),
    ("/tmp/" + "a" * 1100, "longer than"),
    ("\\\\server\\share\\file.txt", "network"),
    ("//server/share/file.txt", "network"),
    ("\\\\?\\C:\\Windows\\system32", "network"),
])
def test_paths_no_tool_should_take_are_refused_with_a_reason(bad: str, words: str) -> None:
    with pytest.raises(ScopeError, match=words):
        canonical_path(bad)


@pytest.mark.parametrize("text, kind", [("code.exec", "code.exec"), ("system.info", "system.info"),
                                        ("net:Example.ORG", "net"), ("clipboard", "clipboard")])
def test_scopes_parse_to_their_kind(text: str, kind: str) -> None:
    assert parse_scope(text).kind == kind


@pytest.mark.parametrize("bad, words", [
    ("root", "unknown scope kind"), ("fs.read", "needs a folder"), ("net:", "needs a host"),
    ("code.exec:/tmp", "takes no target"), ("net:exa mple.org", "not a host name"), ("", "empty"),
])
def test_bad_scopes_are_named(bad: str, words: str) -> None:
    with pytest.raises(ScopeError, match=words):
        parse_scope(bad)


def test_hosts_match_exactly_or_by_wildcard_suffix() -> None:
    assert covers(parse_scope("net:docs.python.org"), need_host("https://DOCS.python.org/3/"))
    assert not covers(parse_scope("net:python.org"), need_host("https://docs.python.org/"))
    assert not covers(parse_scope("net:python.org"), need_host("https://python.org.evil.com/"))
    wildcard = parse_scope("net:*.python.org")
    assert covers(wildcard, need_host("https://docs.python.org/"))
    assert not covers(wildcard, need_host("https://python.org/"))
    assert not covers(wildcard, need_host("https://evilpython.org/"))


@pytest.mark.parametrize("url, words", [
    ("file:///etc/passwd", "only http"), ("ftp://example.org/x", "only http"), ("javascript:alert(1)", "only http"),
    ("https://user:pw@example.org/", "credentials"), ("https:///path", "no host"),
])
def test_urls_that_are_not_plain_web_pages_are_refused(url: str, words: str) -> None:
    with pytest.raises(ScopeError, match=words):
        need_host(url)


def test_kinds_never_cover_each_other(tree: dict[str, Path]) -> None:
    assert not covers(parse_scope(f"fs.write:{tree['granted']}"), need_path("fs.read", str(tree["granted"])))
    assert not covers(Scope("code.exec"), Scope("system.info"))


@pytest.mark.parametrize(("text", "target"), [
    ("net:127.0.0.1:8080", "127.0.0.1:8080"), ("net:[::1]:8080", "[::1]:8080"), ("net:[0:0::1]", "::1"),
    ("net:0:0:0:0:0:0:0:1", "::1"), ("net:Example.ORG.:8443", "example.org:8443"), ("net:*.example.org:8080",
                                                                                     "*.example.org:8080"),
])
def test_host_grants_may_name_a_port_and_addresses_take_one_spelling(text: str, target: str) -> None:
    assert parse_scope(text).target == target


@pytest.mark.parametrize(("bad", "words"), [
    ("net:example.org:0", "not a port"), ("net:example.org:65536", "not a port"), ("net:example.org:http", "not a port"),
    ("net:[::1", "not a host"), ("net:[::1]x", "not a host"), ("net:example.org:443", "default web port"),
    ("net:127.0.0.1:80", "default web port"),
])
def test_bad_ports_are_named(bad: str, words: str) -> None:
    with pytest.raises(ScopeError, match=words):
        parse_scope(bad)


def test_a_url_needs_its_port_unless_it_is_the_schemes_default() -> None:
    assert str(need_host("http://example.org/")) == "net:example.org"
    assert str(need_host("https://example.org:443/")) == "net:example.org"
    assert str(need_host("http://example.org:443/")) == "net:example.org:443"
    assert str(need_host("http://127.0.0.1:8080/x")) == "net:127.0.0.1:8080"
    assert str(need_host("http://[0::1]:8080/x")) == "net:[::1]:8080"
    with pytest.raises(ScopeError, match="port that is not a number"):
        need_host("http://example.org:99999/")


def test_a_grant_with_a_port_covers_that_port_only_and_one_without_covers_any() -> None:
    assert covers(parse_scope("net:127.0.0.1:8080"), need_host("http://127.0.0.1:8080/"))
    assert not covers(parse_scope("net:127.0.0.1:8080"), need_host("http://127.0.0.1:8081/"))
    assert not covers(parse_scope("net:127.0.0.1:8080"), need_host("http://127.0.0.1/"))
    assert covers(parse_scope("net:127.0.0.1"), need_host("http://127.0.0.1:8081/"))
    assert covers(parse_scope("net:*.example.org:8080"), need_host("http://a.example.org:8080/"))
    assert not covers(parse_scope("net:*.example.org:8080"), need_host("http://a.example.org/"))


@pytest.mark.attack("network")
def test_a_wildcard_never_covers_an_address_in_any_spelling() -> None:
    for grant, url in (("net:*.0.1", "http://127.0.0.1/"), ("net:*.0.0.1", "http://127.0.0.1/"),
                       ("net:*.1", "http://127.1/"), ("net:*.0.1", "http://0x7f.0.0.1/")):
        assert not covers(parse_scope(grant), need_host(url)), (grant, url)
