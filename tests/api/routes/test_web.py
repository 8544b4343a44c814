"""The web page in a real browser: Debian's Chromium driven by Playwright (pip's wheel, never
``playwright install``), headless, against a real uvicorn server on 127.0.0.1 (``serving``).

One browser for the module. The chat uses a scripted model whose tokens are slowed down, so
the test can see the answer grow before it is complete. Screenshots of each screen go to
``build/screenshots/`` (not committed).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.services import Services
from tests.support import REPO, make_settings, pdf_text, serving, write_beir, write_simple_pdf

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = REPO / "build" / "screenshots"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]  # fmt: skip

# No skip when Chromium is missing: `make test` installs it, and a browser suite that silently skipped
# would prove nothing. Launching fails with Playwright's own message instead.

PAGE_ONE = ["Kettle manual", "The Aurora X2 kettle has a steel body and a blue light.", "It holds one litre of water."]
PAGE_TWO = [
    "Descaling",
    "Descale the Aurora kettle every thirty days with citric acid.",
    "Rinse it twice after descaling.",
]
HOSTILE = (
    "# Hostile notes\n\nThis line holds <script>window.__pwned = 1</script> a script tag.\n\n"
    'And an image: <img src="x" onerror="window.__pwned = 2"> with a handler.\n'
)


def _manual_pdf() -> bytes:
    def page(lines: list[str]) -> bytes:
        head, *body = lines
        return pdf_text(72, 740, head, 18) + b"".join(pdf_text(72, 700 - 20 * i, line) for i, line in enumerate(body))

    return write_simple_pdf([page(PAGE_ONE), page(PAGE_TWO)])


@pytest.fixture(scope="module")
def slow_tokens() -> Iterator[None]:
    """The scripted model's stream with a pause before each piece, so tokens arrive one by one."""
    from agent import scripted

    original = scripted._chunks

    async def _slowed(reply: Any) -> AsyncIterator[Any]:
        async for chunk in original(reply):
            await asyncio.sleep(0.08)
            yield chunk

    scripted._chunks = _slowed  # type: ignore[assignment]
    yield
    scripted._chunks = original  # type: ignore[assignment]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, slow_tokens: None) -> Iterator[dict[str, Any]]:
    from api.ratelimit import RateLimiter

    home = tmp_path_factory.mktemp("web") / "home"
    # A 256 KiB streaming cap, so a small file already takes the resumable path (parts, then a SHA-256).
    settings = make_settings(home, model="test", max_upload_bytes=256 << 10, max_resumable_bytes=8 << 20)
    services = Services.build(settings, RateLimiter({"listing": 1000, "retrieval": 1000, "chat": 1000, "write": 1000}))
    services.start_indexing()
    admin = services.keys.create(role="admin", name="admin")[1]
    alice = services.keys.create(role="user", name="alice")[1]
    try:
        with serving(services) as base:
            yield {"base": base, "admin": admin, "alice": alice, "services": services, "tmp": home.parent}
    finally:
        services.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        yield chromium
        chromium.close()


def _page(browser: Any, site: dict[str, Any], key: str, **context: Any) -> Any:
    """A fresh context (its own sessionStorage) signed in with ``key``; page errors fail the test."""
    ctx = browser.new_context(**context)
    page = ctx.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: page.errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(site["base"] + "/")
    page.fill("#key", key)
    page.press("#key", "Enter")
    page.wait_for_selector("#nav:not([hidden])")
    return page


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_the_page_is_served_with_a_strict_content_security_policy(site: dict[str, Any]) -> None:
    response = httpx.get(site["base"] + "/")
    csp = response.headers["content-security-policy"]
    assert response.status_code == 200 and "<script" in response.text
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe" not in csp
    assert 'type="module" src="/static/js/main.js"' in response.text and "<script>" not in response.text
    assert httpx.get(site["base"] + "/static/js/main.js").headers["content-type"].startswith("text/javascript")
    assert httpx.get(site["base"] + "/static/vendor/purify.es.mjs").status_code == 200  # `make` copied it
    escaped = httpx.get(site["base"] + "/static/../../routes/web.py")
    assert escaped.status_code == 404 and "error_code" in escaped.json()


def test_sign_in_upload_ask_click_the_citation_and_delete(browser: Any, site: dict[str, Any], tmp_path: Path) -> None:
    """The Done-when path: upload a PDF, watch it complete, ask, see tokens stream, open the cited
    passage on its page with its region highlighted, then delete the file."""
    page = _page(browser, site, site["admin"])
    pdf = tmp_path / "kettle-manual.pdf"
    pdf.write_bytes(_manual_pdf())
    page.set_input_files("#file-input", str(pdf))
    page.wait_for_selector('li.upload[data-status="completed"]', timeout=60_000)
    page.wait_for_selector('#file-table tr[data-status="completed"]')
    assert "kettle-manual.pdf" in page.inner_text("#file-table")
    _shot(page, "library")

    page.goto(site["base"] + "/#/chat")
    page.fill("#question", "How often should the Aurora kettle be descaled?")
    page.evaluate(  # what the answer showed at every change, kept: polling could miss a short stream
        """() => { window.answerSeen = []; new MutationObserver(() => {
             const m = [...document.querySelectorAll(".msg.assistant")].pop();
             if (m) window.answerSeen.push([m.dataset.state || "", Number(m.dataset.tokens || 0), m.innerText]);
           }).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true}); }"""
    )
    page.press("#question", "Enter")
    answer = page.locator(".msg.assistant").last
    page.wait_for_selector('.msg.assistant[data-state="done"], .msg.assistant[data-state="error"]', timeout=90_000)
    final = answer.inner_text()
    assert answer.get_attribute("data-state") == "done", final
    # Tokens arrived before the answer was complete: some text shown while the turn was still streaming.
    seen = page.evaluate("window.answerSeen")
    partials = [text for state, tokens, text in seen if state == "streaming" and tokens > 0]
    assert partials and min(len(t) for t in partials) < len(final)
    assert "thirty days" in final
    assert "passage" in page.inner_text(".activity")  # the search the agent ran, and what came back
    assert page.locator("#cited .source").count() >= 1
    _shot(page, "chat")

    cite = answer.locator("a.cite").first
    assert cite.inner_text() == "[1]"
    cite.click()
    page.wait_for_selector('.page-frame[data-page="2"] [data-highlight]', timeout=30_000)
    box = page.locator("[data-highlight]").first.bounding_box()
    image = page.locator("#page-image").bounding_box()
    assert box and image and box["height"] > 0 and image["y"] <= box["y"] <= image["y"] + image["height"] / 2
    assert page.locator("#page-label").inner_text() == "Page 2 of 2"
    page.evaluate("window.scrollTo(0, 0)")
    _shot(page, "citation")

    file_id = page.evaluate("location.hash").split("/")[2].split("?")[0]
    page.goto(site["base"] + "/#/library")
    page.on("dialog", lambda d: d.accept())
    page.click(f'#file-table tr[data-file-id="{file_id}"] button.danger')
    page.wait_for_selector(f'#file-table tr[data-file-id="{file_id}"]', state="detached")
    assert httpx.get(f"{site['base']}/v1/files/{file_id}", headers=_auth(site["admin"])).status_code == 404
    assert page.errors == []  # type: ignore[attr-defined]


Box = tuple[float, float, float, float]
SCAN_PAGES = [  # (heading, paragraph lines, where the paragraph starts: x, y in pixels of an A4 page at 150 dpi)
    ("Pump station log", ["The station on the north bank serves four villages", "in the valley below the dam."], (120, 420)),
    ("Maintenance", ["The Velmora pump station valves are greased every nine-", "teen weeks with marine grease, and the seals",
                     "are replaced each spring."], (120, 1050)),
]  # fmt: skip
PHOTO_PAGE = (
    "Greenhouse notes",
    ["The Quillon greenhouse misters run at", "dawn for eleven minutes each day."],
    (560, 1250),
)


def _drawn_page(heading: str, lines: list[str], at: tuple[int, int]) -> tuple[Any, list[Box]]:
    """A white A4 page at 150 dpi with ``heading`` at the top and ``lines`` from ``at``; returns it and the
    boxes of the paragraph and the heading (normalised, origin top-left: element bboxes' convention) as drawn."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (1240, 1754), "white")
    draw = ImageDraw.Draw(image)
    big = ImageFont.load_default(size=56)
    draw.text((120, 150), heading, fill="black", font=big)
    font = ImageFont.load_default(size=34)
    boxes = []
    for n, line in enumerate(lines):
        xy = (at[0], at[1] + 52 * n)
        boxes.append(draw.textbbox(xy, line, font=font))
        draw.text(xy, line, fill="black", font=font)
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    h0, h1, h2, h3 = draw.textbbox((120, 150), heading, font=big)
    return image, [(x0 / 1240, y0 / 1754, x1 / 1240, y1 / 1754), (h0 / 1240, h1 / 1754, h2 / 1240, h3 / 1754)]


def _scan_and_photo(folder: Path) -> tuple[Path, list[Box], Path, list[Box]]:
    """A two-page image-only PDF (pages made to look scanned, no text layer) and a JPEG photo of a page,
    with the boxes of the cited paragraph and its page's heading as drawn (the scan's on its page 2)."""
    from evals.benchmarks.ocr import scanned

    scans = [_drawn_page(*page) for page in SCAN_PAGES]
    pdf = folder / "pump-station-scan.pdf"
    first, *rest = [scanned(image, seed=n) for n, (image, _) in enumerate(scans)]
    first.save(pdf, format="PDF", resolution=150, save_all=True, append_images=rest)
    photo, photo_boxes = _drawn_page(*PHOTO_PAGE)
    jpeg = folder / "greenhouse-photo.jpg"
    scanned(photo, seed=7).save(jpeg, format="JPEG", quality=60)
    return pdf, scans[1][1], jpeg, photo_boxes


def _open_citation(page: Any, site: dict[str, Any], question: str, said: str, page_number: int) -> list[Box]:
    """Asks ``question`` in a new chat, checks the answer quotes ``said``, clicks its first citation and
    returns the highlights' boxes on the shown page image, normalised to the image."""
    page.goto(site["base"] + "/#/chat")
    page.fill("#question", question)
    page.press("#question", "Enter")
    page.wait_for_selector('.msg.assistant[data-state="done"], .msg.assistant[data-state="error"]', timeout=60_000)
    answer = page.locator(".msg.assistant").last
    assert answer.get_attribute("data-state") == "done" and said in answer.inner_text(), answer.inner_text()
    answer.locator("a.cite").first.click()
    page.wait_for_selector(f'.page-frame[data-page="{page_number}"] [data-highlight]', timeout=30_000)
    page.wait_for_function("() => document.querySelector('#page-image')?.naturalWidth > 0")
    image = page.locator("#page-image").bounding_box()
    boxes = [b for b in (h.bounding_box() for h in page.locator("[data-highlight]").all()) if b]
    assert image and boxes
    return [((b["x"] - image["x"]) / image["width"], (b["y"] - image["y"]) / image["height"],
             (b["x"] + b["width"] - image["x"]) / image["width"],
             (b["y"] + b["height"] - image["y"]) / image["height"]) for b in boxes]  # fmt: skip


def _near(a: Box, b: Box) -> bool:
    return all(abs(p - q) < 0.03 for p, q in zip(a, b, strict=True))


def test_a_scan_and_a_photo_answer_with_citations_that_open_on_the_highlighted_text(
    browser: Any, site: dict[str, Any], tmp_path: Path
) -> None:
    """Issue 17's Done-when in the browser: an image-only PDF and a JPEG photo of a page, read by OCR,
    reach ``completed``; a question about each is answered with a citation that opens the right page
    as an image with a highlight where the paragraph was drawn (a 1.5° scan tilt and the box's border
    are within the tolerance) and none elsewhere. The page's heading may be highlighted too: when OCR
    does not tell it from body text (tesseract's boxes of a word without descenders) it is the chunk's
    first paragraph."""
    pdf, scan_boxes, jpeg, photo_boxes = _scan_and_photo(tmp_path)
    page = _page(browser, site, site["admin"])
    page.set_input_files("#file-input", [str(pdf), str(jpeg)])
    for name in (pdf.name, jpeg.name):
        page.wait_for_selector(f'li.upload[data-name="{name}"][data-status="completed"]', timeout=60_000)

    shown = _open_citation(page, site, "How often are the Velmora pump station valves greased?", "nineteen weeks", 2)
    assert page.locator("#page-label").inner_text() == "Page 2 of 2"
    assert any(_near(box, scan_boxes[0]) for box in shown), (shown, scan_boxes)
    assert all(any(_near(box, drawn) for drawn in scan_boxes) for box in shown), (shown, scan_boxes)
    page.evaluate("window.scrollTo(0, 0)")
    _shot(page, "citation-scan")

    shown = _open_citation(page, site, "How long do the Quillon greenhouse misters run?", "eleven minutes", 1)
    assert page.locator("#page-label").inner_text() == "Page 1 of 1"
    assert any(_near(box, photo_boxes[0]) for box in shown), (shown, photo_boxes)
    assert all(any(_near(box, drawn) for drawn in photo_boxes) for box in shown), (shown, photo_boxes)
    page.evaluate("window.scrollTo(0, 0)")
    _shot(page, "citation-photo")
    assert page.errors == []  # type: ignore[attr-defined]


def test_dropped_files_a_big_one_in_parts_and_a_failure_in_words(browser: Any, site: dict[str, Any]) -> None:
    """Three files dropped at once: a text file over the streaming cap goes up in parts (resumable, its
    SHA-256 computed in the page) with a progress bar, a broken PDF fails with its reason in words, and
    Retry sends it through indexing again."""
    page = _page(browser, site, site["admin"])
    page.wait_for_selector("#file-table, #files p")
    page.evaluate(
        """() => {
        const big = new Uint8Array(600 * 1024);
        for (let i = 0; i < big.length; i += 65536) crypto.getRandomValues(big.subarray(i, i + 65536));
        const dt = new DataTransfer();
        dt.items.add(new File([big], "scans.bin", {type: "application/octet-stream"}));
        dt.items.add(new File(["%PDF-1.4 this is not really a PDF"], "broken.pdf", {type: "application/pdf"}));
        dt.items.add(new File(["# Small\\n\\nA small note about kettles."], "small.md", {type: "text/markdown"}));
        document.getElementById("drop").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true}));
    }"""
    )
    big = page.locator('li.upload[data-name="scans.bin"]')
    broken = page.locator('li.upload[data-name="broken.pdf"]')
    page.wait_for_selector(
        'li.upload[data-name="scans.bin"][data-status="stored"][data-followed="true"]', timeout=30_000
    )
    page.wait_for_selector('li.upload[data-name="small.md"][data-status="completed"]', timeout=30_000)
    page.wait_for_selector('li.upload[data-name="broken.pdf"][data-status="failed"]', timeout=30_000)
    assert big.locator("progress").get_attribute("value") == "100"
    assert "cannot index this type" in big.inner_text()  # kept for download, and said so
    assert "not a valid PDF" in broken.inner_text() or "damaged" in broken.inner_text()
    file_id = big.get_attribute("data-file-id")
    download = httpx.get(f"{site['base']}/v1/files/{file_id}/content", headers=_auth(site["admin"]))
    # In three parts; the completion checked the page's SHA-256 against the joined parts, so it arrived whole.
    assert len(download.content) == 600 * 1024
    row = page.locator('#file-table tr[data-status="failed"]', has_text="broken.pdf")
    row.wait_for()
    assert "not a valid PDF" in row.inner_text() or "damaged" in row.inner_text()
    _shot(page, "library-uploads")
    row.locator("button", has_text="Retry").click()
    page.wait_for_selector('#file-table tr[data-status="failed"]:has-text("broken.pdf")', timeout=30_000)
    jobs = httpx.get(f"{site['base']}/v1/files?name=broken&status=any", headers=_auth(site["admin"])).json()
    assert jobs["files"][0]["last_processed"] is not None  # processed again, failed again, reason kept
    assert page.errors == []  # type: ignore[attr-defined]


def test_stop_keeps_the_partial_answer_and_the_session_continues(
    browser: Any, site: dict[str, Any], tmp_path: Path
) -> None:
    """Stop aborts the stream mid-answer; the server keeps what was said (``partial``), and the session,
    opened again from the list, shows it and takes the next question."""
    from agent.scripted import Reply
    from tests.support import scripted

    (tmp_path / "words.md").write_text("# Words\n\nSay many words: a note about saying words.\n")
    services: Services = site["services"]
    _wait_completed(site, [services.ingestion.add_file(tmp_path / "words.md", "words.md", owner="admin").document.id])
    model, _ = scripted(lambda messages, tools: Reply.text("word " * 300, piece_chars=5))
    made = httpx.post(f"{site['base']}/v1/chat/sessions", json={"model": model, "title": "Long one"},
                      headers=_auth(site["admin"]))  # fmt: skip
    session_id = made.json()["session_id"]
    page = _page(browser, site, site["admin"])
    page.goto(f"{site['base']}/#/chat/{session_id}")
    page.fill("#question", "Say many words")
    page.press("#question", "Enter")
    page.wait_for_function("() => Number(document.querySelector('.msg.assistant')?.dataset.tokens) >= 5")
    page.click("#stop")
    page.wait_for_selector('.msg.assistant[data-state="stopped"]')
    kept = page.inner_text(".msg.assistant .answer")
    assert "word" in kept and "partial answer is kept" in kept and kept.count("word") < 300
    deadline = time.monotonic() + 10
    while True:  # the server notices the disconnect and stores the partial answer
        history = httpx.get(f"{site['base']}/v1/chat/sessions/{session_id}", headers=_auth(site["admin"])).json()
        answers = [m for m in history["messages"] if m["role"] == "assistant"]
        if answers or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert answers and answers[-1]["status"] == "partial" and 0 < answers[-1]["content"].count("word") < 300
    page.goto(f"{site['base']}/#/library")
    page.goto(f"{site['base']}/#/chat")
    page.click(f'#session-list li[data-session-id="{session_id}"] a')
    page.wait_for_selector('.msg.assistant[data-state="stopped"]')
    assert page.inner_text(".msg.user") == "Say many words"


def test_a_user_sees_none_of_the_admins_documents(browser: Any, site: dict[str, Any], tmp_path: Path) -> None:
    services: Services = site["services"]
    (tmp_path / "admin-only.md").write_text("# Vault\n\nThe vault code of the Zurich office is 4711.\n")
    secret = services.ingestion.add_file(tmp_path / "admin-only.md", "admin-only.md", owner="admin").document.id
    (tmp_path / "alice.md").write_text("# Garden\n\nThe Zurich office garden has three apple trees.\n")
    own = services.ingestion.add_file(tmp_path / "alice.md", "alice.md", owner="alice").document.id
    _wait_completed(site, [secret, own])

    page = _page(browser, site, site["alice"])
    page.wait_for_selector("#file-table")
    listing = page.inner_text("#file-table")
    assert "alice.md" in listing and "admin-only" not in listing
    assert page.locator('nav a[data-section="admin"]').is_hidden()
    assert page.locator('nav a[data-section="evals"]').is_hidden()  # eval runs are for admins
    page.goto(site["base"] + "/#/chat")
    page.click("details.filters summary")  # the turn's filters: only alice's garden note, a collection
    page.wait_for_selector(f'#chat-docs option[value="{own}"]', state="attached")
    assert page.locator("#chat-docs option").count() == 1  # the admin's document is not offered either
    page.select_option("#chat-docs", own)
    page.fill("#chat-collection", "default")
    page.fill("#question", "What is the vault code of the Zurich office?")
    with page.expect_request(lambda r: r.url.endswith("/messages") and r.method == "POST") as sent:
        page.press("#question", "Enter")
    assert sent.value.post_data_json["document_ids"] == [own] and sent.value.post_data_json["collection"] == "default"
    page.wait_for_selector('.msg.assistant[data-state="done"]', timeout=30_000)
    shown = page.inner_text("#view")
    assert "4711" not in shown and "admin-only" not in shown and "Vault" not in shown
    page.goto(f"{site['base']}/#/doc/{secret}")
    page.wait_for_selector("#view .error")
    assert "4711" not in page.inner_text("#view")


def test_script_and_onerror_in_a_document_show_as_text(browser: Any, site: dict[str, Any], tmp_path: Path) -> None:
    services: Services = site["services"]
    (tmp_path / "hostile.md").write_text(HOSTILE)
    doc = services.ingestion.add_file(tmp_path / "hostile.md", "hostile.md", owner="admin").document.id
    _wait_completed(site, [doc])
    page = _page(browser, site, site["admin"])
    page.goto(f"{site['base']}/#/doc/{doc}")
    page.click('button[data-tab="text"]')
    page.wait_for_selector("#doc-text")
    text = page.inner_text("#doc-text")
    assert "<script>window.__pwned = 1</script>" in text and 'onerror="window.__pwned = 2"' in text
    page.click('button[data-tab="chunks"]')
    page.wait_for_selector("#chunks")
    assert "<script>" in page.inner_text("#chunks")
    page.goto(site["base"] + "/#/chat")
    page.fill("#question", "What does the hostile notes line hold?")
    page.press("#question", "Enter")
    page.wait_for_selector('.msg.assistant[data-state="done"]', timeout=30_000)
    assert "<script>" in page.inner_text(".msg.assistant >> nth=-1") + page.inner_text("#sources")
    page.wait_for_timeout(300)  # an onerror would have fired by now
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#view script, #view img[onerror]").count() == 0
    # A citation of a format without pages opens the document's chunks, scrolled to the cited one.
    page.locator(".msg.assistant a.cite").last.click()
    page.wait_for_selector("#chunks .chunk.target")
    assert "<script>" in page.inner_text("#chunks .chunk.target")
    assert page.evaluate("window.__pwned") is None
    services.ingestion.delete(doc)


def test_search_playground_admin_and_a_narrow_dark_window(browser: Any, site: dict[str, Any], tmp_path: Path) -> None:
    services: Services = site["services"]
    (tmp_path / "descale.md").write_text("# Descaling\n\nDescale the kettle every month with citric acid.\n")
    doc = services.ingestion.add_file(tmp_path / "descale.md", "descale.md", owner="admin").document.id
    _wait_completed(site, [doc])
    page = _page(browser, site, site["admin"])
    page.goto(site["base"] + "/#/search")
    page.fill("#s-q", "descale kettle citric")
    page.check("#s-w-on")
    page.press("#s-q", "Enter")
    page.wait_for_selector("#search-summary")
    assert " ms on the server" in page.inner_text("#search-summary")
    first = page.locator("#search-results tbody tr").first.inner_text()
    assert "descale.md" in first and first.count("0.") >= 2  # the legs' scores and the fused one
    _shot(page, "search")

    page.goto(site["base"] + "/#/admin")
    page.fill("#k-name", "bob")
    page.press("#k-name", "Enter")
    page.wait_for_selector("#k-created .secret")
    secret = page.inner_text("#k-created .secret")
    assert secret.startswith("lk_") and "bob" in page.inner_text("#key-table")
    assert httpx.get(f"{site['base']}/v1/keys/me", headers=_auth(secret)).json()["user_id"] == "bob"
    _shot(page, "admin")

    narrow = _page(browser, site, site["admin"], viewport={"width": 390, "height": 800}, color_scheme="dark")
    narrow.goto(site["base"] + "/#/chat")
    narrow.wait_for_selector("#question")
    width = narrow.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"the chat screen scrolls sideways at phone width ({width}px)"
    background = narrow.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(21, 22, 24)"  # the dark palette
    _shot(narrow, "chat-narrow-dark")
    narrow.goto(site["base"] + "/#/library")
    narrow.reload()  # still signed in (the key is in the tab's session), focus at the page's start
    narrow.wait_for_selector("#file-table")
    narrow.keyboard.press("Tab")  # the skip link first, then the sections: usable from the keyboard
    assert narrow.evaluate("document.activeElement.className") == "skip"
    narrow.keyboard.press("Tab")
    assert narrow.evaluate("document.activeElement.dataset.section") == "library"


EVAL_DOCS = {
    "d1": ("Descaling", "Descale the espresso machine every eight weeks with citric acid."),
    "d2": ("Grinding", "A burr grinder produces an even grind for espresso."),
    "d3": ("Milk", "Steam milk to 60 degrees for a silky microfoam."),
    "d4": ("Water", "Soft water reduces limescale in the boiler."),
}
EVAL_QUERIES = {"q1": "remove limescale with citric acid", "q2": "which grinder for an even grind", "q3": "milk foam",
                "q4": "mill for coffee beans"}  # fmt: skip
EVAL_QRELS = [("q1", "d1", 1), ("q1", "d4", 1), ("q2", "d2", 1), ("q3", "d3", 1), ("q4", "d2", 1)]


def test_evals_two_runs_their_plot_a_comparison_and_a_bad_path_in_words(
    browser: Any, site: dict[str, Any], tmp_path: Path
) -> None:
    """Two retrieval runs started from the page (a folder on the server, then the same files
    uploaded), their metrics as the API has them, the recall@k plot loaded through the key, the
    per-query table, both runs compared, and a dataset path the server cannot read refused in words."""
    dataset = write_beir(tmp_path / "tiny", EVAL_DOCS, EVAL_QUERIES, EVAL_QRELS)
    page = _page(browser, site, site["admin"])
    page.goto(site["base"] + "/#/evals")
    page.wait_for_selector("#eval-runs h2")
    assert page.locator("#e-queries").is_hidden()  # the upload's fields only once "Upload files" is chosen
    page.evaluate(  # every progress line the screen shows, kept: a tiny run is over in a second
        """() => { window.progressSeen = new Set(); new MutationObserver(() => document.querySelectorAll(".eval-progress")
           .forEach((p) => window.progressSeen.add(p.textContent.trim()))).observe(document.body, {subtree: true, childList: true}); }"""
    )
    page.fill("#e-dataset", str(dataset))
    page.select_option("#e-type", "keyword")
    page.fill("#e-name", "keyword run")
    page.click("#e-start")
    page.wait_for_selector("#eval-run[data-status]")  # the new run's card, watching its progress
    page.select_option("#e-source", "upload")
    assert page.locator("#e-kind").is_disabled() and page.locator("#e-dataset").is_hidden()
    assert page.locator("#e-queries").is_visible()
    page.set_input_files("#e-queries", str(dataset / "queries.jsonl"))
    page.set_input_files("#e-qrels", str(dataset / "qrels" / "test.tsv"))
    page.set_input_files("#e-corpus", str(dataset / "corpus.jsonl"))
    page.select_option("#e-type", "vector")
    page.fill("#e-name", "vector run")
    page.click("#e-start")
    page.wait_for_function("() => document.querySelectorAll('#eval-table tr[data-status=completed]').length === 2",
                           timeout=60_000)  # fmt: skip
    runs: dict[str, dict[str, Any]] = {}
    for row in page.locator("#eval-table tbody tr").all():
        url = f"{site['base']}/v1/evals/{row.get_attribute('data-eval-id')}"
        run = runs.setdefault(row.locator("a").inner_text(), httpx.get(url, headers=_auth(site["admin"])).json())
        cells = row.locator("td[data-metric]").all()
        shown = {c.get_attribute("data-metric"): float(c.get_attribute("data-value")) for c in cells}
        assert len(shown) == 4 and shown == {m: run["metrics"][m] for m in shown}  # GET /v1/evals/{id}'s numbers
    seen = page.evaluate("() => [...window.progressSeen]")
    assert any(p.startswith(("waiting for the worker", "indexing", "searching")) for p in seen), seen
    assert set(runs) == {"keyword run", "vector run"} and "uploaded files" in page.inner_text("#eval-table")
    assert runs["keyword run"]["metrics"]["recall@10"] < 1.0 and "/eval-datasets/" in runs["vector run"]["dataset"]

    kw = runs["keyword run"]
    page.click('#eval-table a:text-is("keyword run")')
    page.wait_for_selector(f'#eval-run[data-eval-id="{kw["eval_id"]}"][data-status="completed"]')
    cells = page.locator("#eval-run td[data-metric]").all()
    assert {c.get_attribute("data-metric"): float(c.get_attribute("data-value")) for c in cells} == {
        m: kw["metrics"][m] for m in ("ndcg@10", "recall@10", "recall@100", "mrr@10", "recall@1", "recall@3",
                                      "recall@5", "recall@20", "recall@50")}  # fmt: skip
    page.wait_for_function("() => document.querySelector('#eval-run .plot img')?.naturalWidth > 0")
    assert page.locator("#eval-run .plot img").get_attribute("src").startswith("blob:")
    assert page.locator("#per-query tbody tr").count() == 4 and "citric acid" in page.inner_text("#per-query")
    page.evaluate("window.scrollTo(0, 0)")
    _shot(page, "evals-run")

    for row in page.locator("#eval-table tbody tr input[type=checkbox]").all():
        row.check()
    page.click("#compare")
    page.wait_for_selector("#eval-compare")
    page.wait_for_function("() => document.querySelector('#eval-compare .plot img')?.naturalWidth > 0")
    for run in runs.values():
        for metric in ("ndcg@10", "recall@10", "mrr@10"):
            cell = page.locator(f'#compare-table td[data-run="{run["eval_id"]}"][data-metric="{metric}"]')
            assert float(cell.get_attribute("data-value")) == run["metrics"][metric]
    assert "keyword run" in page.inner_text("#eval-compare") and "vector run" in page.inner_text("#eval-compare")
    assert page.locator("#compare-queries tbody tr").count() == 4
    page.evaluate("window.scrollTo(0, 0)")
    _shot(page, "evals")
    assert page.errors == []  # type: ignore[attr-defined]

    page.select_option("#e-source", "server")
    page.fill("#e-dataset", str(tmp_path / "no-such-dataset"))
    page.click("#e-start")
    page.wait_for_selector("#e-error:not(:empty)")
    assert "no-such-dataset is not a folder the server can read" in page.inner_text("#e-error")


def _wait_completed(site: dict[str, Any], ids: list[str], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    for doc in ids:
        while True:
            status = httpx.get(f"{site['base']}/v1/files/{doc}/status", headers=_auth(site["admin"])).json()["status"]
            if status in ("completed", "failed"):
                assert status == "completed"
                break
            assert time.monotonic() < deadline, f"{doc} still {status}"
            time.sleep(0.2)
