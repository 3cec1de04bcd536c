"""What the docs quote a command printing is what it prints (#21 §4): the README's commands are run as
pasted against a running `make dev` (ports aside) and each quoted answer compared with the real one;
`make replay`'s, `make forget`'s and `make preview`'s quoted lines with theirs (ids and timings aside);
the SAM CLI's prompts quoted in docs/deploy.md with the installed SAM CLI's own."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator

import pytest

from tests.dev_server import ROOT, DevServer, dev_server, run

README = (ROOT / "README.md").read_text()


def blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, re.DOTALL)


def commands(block: str) -> list[tuple[str, str | None]]:
    """Each command of a shell block (continued while a quote is open or a line ends in `\\`) and the
    answer quoted under it (a `# {...}` line: the JSON it prints), if any."""
    result: list[tuple[str, str | None]] = []
    current = ""
    for line in block.splitlines():
        if not current and line.startswith("#"):
            answer = re.match(r"# (\{.*?\})(:|$)", line)
            if answer and result and result[-1][1] is None:
                result[-1] = (result[-1][0], answer.group(1))
            continue
        current += line + "\n"
        if current.count("'") % 2 == 0 and not line.endswith("\\"):
            result.append((current.strip(), None))
            current = ""
    return result


def shape(text: str) -> str:
    """A printed line with what varies from run to run (numbers, ids, rates) taken out."""
    return re.sub(r"[0-9a-f]{8,}|\d+(\.\d+)?", "N", text.replace("…", "")).strip()


@pytest.fixture(scope="module")
def dev() -> Iterator[DevServer]:
    with dev_server() as running:
        yield running


def run_as_pasted(command: str, dev: DevServer) -> str:
    """The command on this dev stack's ports instead of the defaults."""
    local = command.replace("http://127.0.0.1:3000", dev.endpoint)
    local = re.sub(r"(http://)?(localhost|127\.0\.0\.1):3001", dev.sandbox, local)
    done = subprocess.run(["bash", "-c", local], capture_output=True, text=True, timeout=60, check=True)  # noqa: S603, S607
    return done.stdout


def test_the_readmes_first_curl_is_the_one_make_dev_prints(dev: DevServer) -> None:
    first = commands(blocks(README)[1])[0][0]
    printed = re.search(r"  (curl -s -u .*?\]\}')", dev.banner, re.DOTALL).group(1)  # type: ignore[union-attr]
    assert " ".join(first.split()) == " ".join(printed.replace(dev.endpoint, "http://127.0.0.1:3000").split())


def test_each_answer_the_readme_quotes_is_what_its_command_answers(dev: DevServer) -> None:
    """The README's local blocks, run in order: the batch, then the queued-event demo and `make replay`."""
    checked = 0
    replay_quote = None
    for block in blocks(README)[1:3]:
        for command, answer in commands(block):
            if command.startswith("make replay"):
                replay_quote = command.split("#", 1)[1].strip()
                continue
            printed = run_as_pasted(command, dev)
            if answer is not None:
                assert json.loads(printed) == json.loads(answer), command
                checked += 1
    assert checked == 2
    assert replay_quote is not None
    done = run("local.replay", env=dev.env(), timeout=120)
    assert done.returncode == 0, done.stderr
    summary = done.stdout.splitlines()[0]
    assert shape(summary) == shape(replay_quote)
    assert summary.startswith("replayed 1  delivered 1  requeued 0  parked 0  stale 0")  # the quoted counts


def test_make_preview_prints_what_docs_actions_quotes() -> None:
    (block,) = [block for block in blocks((ROOT / "docs" / "actions.md").read_text()) if "make preview" in block]
    quoted = [line[2:] for line in block.splitlines() if line.startswith("# ")]
    done = run("local.actions", "preview", "events/track.json")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == quoted


def test_make_forget_prints_what_docs_privacy_quotes(dev: DevServer) -> None:
    (block,) = [block for block in blocks((ROOT / "docs" / "privacy.md").read_text()) if "make forget" in block]
    (quoted,) = [line[2:] for line in block.splitlines() if line.startswith("# ")]
    run_as_pasted(
        "curl -s -u dev-write-key: http://127.0.0.1:3000/v1/identify "
        """-d '{"userId": "forget-me", "traits": {"email": "forget-me@example.com"}}'""",
        dev,
    )
    done = run("local.forget", env={"USER_ID": "forget-me", **dev.env()}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert shape(done.stdout.splitlines()[0]) == shape(quoted)


def test_the_sam_prompts_docs_deploy_quotes_are_the_sam_clis() -> None:
    """The prompts table in docs/deploy.md names each prompt as the SAM CLI that `make sam` installs asks it."""
    guided = next((ROOT / ".venv-sam").glob("lib/python3*/site-packages/samcli/commands/deploy/guided_context.py"))
    source = guided.read_text()
    table = (ROOT / "docs" / "deploy.md").read_text().split("| prompt | answer |")[1].split("\n\n")[0]
    prompts = [re.findall(r"`([^`]+)`", row.split("|")[1]) for row in table.splitlines()[2:]]
    assert len(prompts) >= 7
    for names in prompts:
        for name in names:
            if name.startswith("Parameter "):  # SAM asks for each template parameter by its name
                assert f"  {name.removeprefix('Parameter ')}:" in (ROOT / "template.yaml").read_text()
            else:
                assert name.replace("IngestFunction has", "has") in source, name
