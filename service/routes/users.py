"""A reader's likes, dislikes and seen papers, their tokens, library import and export, the personal
feed, its Atom form and today's papers for the reader."""

from __future__ import annotations

import datetime as dt
import re
import time
from enum import Enum
from typing import Annotated
from xml.etree import ElementTree

import orjson
import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import Field

from indexer.errors import BadRecord
from indexer.errors import NoKnownLikes
from indexer.paper_index import PaperIndex
from indexer.papers import Paper
from service import citations, library, ranking
from service.deps import AppSettings, K, ListFilters, Offset, Served, Users
from service.filters import Filters
from service.routes.papers import paper_list, row_or_404
from service.schemas import ImportResults, PaperId, PaperList, PaperOut, SeenOut, UserOut, UserRecommendations
from service.security import is_admin, new_token, require_user, token_hash
from service.users import DISLIKE, LIKE, SEEN, UserStore

UserName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$",
                               description="user name: letters, digits, . _ @ - (at most 64)")]


def _authorized(request: Request, user: UserName) -> None:
    require_user(request, user)


router = APIRouter(tags=["users"], dependencies=[Depends(_authorized)])
MAX_IMPORT_BYTES = 10 * 1024 * 1024
MAX_SEEN_BATCH = 10_000


def user_out(users, user: str) -> UserOut:
    record = users.get(user)
    return UserOut(user=user, likes=record.likes, dislikes=record.dislikes,
                   counts={"likes": len(record.likes), "dislikes": len(record.dislikes), "seen": len(record.seen)})


@router.get("/users/{user}", response_model=UserOut)
def get_user(user: UserName, users: Users) -> UserOut:
    """The user's likes and dislikes (oldest first) and counts; empty for a new user."""
    return user_out(users, user)


@router.delete("/users/{user}")
def delete_user(user: UserName, users: Users) -> dict:
    """Erases everything stored about the user."""
    return {"user": user, "deleted": users.delete(user)}


@router.post("/users/{user}/token")
def issue_token(user: UserName, request: Request, users: Users, settings: AppSettings) -> dict:
    """A new token for the user (any previous one stops working); shown once, stored hashed.
    From then on the user's calls need `Authorization: Bearer TOKEN` (or the admin key). With an
    admin key configured, only the admin or the user (with the current token) may ask. Without
    one, a first token only claims a new user name: whoever asked first could otherwise lock the
    owner of an existing library out of it."""
    first = users.token_hash(user) is None
    if settings.admin_key and first and not is_admin(request):
        raise HTTPException(status_code=401, detail="issuing a user's first token needs the admin key",
                            headers={"WWW-Authenticate": "Bearer"})
    record = users.get(user) if first and not settings.admin_key else None
    if record is not None and (record.likes or record.dislikes or record.seen):
        raise HTTPException(status_code=403, detail=f"user {user} already has likes, dislikes or seen papers: "
                            "only the admin can issue their first token (set PAPERLENS_ADMIN_KEY)")
    token = new_token()
    users.set_token(user, token_hash(token))
    return {"user": user, "token": token}


def _marking_routes(kind: str, plural: str) -> None:
    @router.put(f"/users/{{user}}/{plural}/{{paper_id:path}}", response_model=UserOut, name=f"add_{kind}")
    def add(user: UserName, paper_id: str, served: Served, users: Users) -> UserOut:
        row_or_404(served, paper_id)
        users.mark(user, [paper_id], kind)
        return user_out(users, user)

    @router.delete(f"/users/{{user}}/{plural}/{{paper_id:path}}", response_model=UserOut, name=f"remove_{kind}")
    def remove(user: UserName, paper_id: str, users: Users) -> UserOut:
        if not users.unmark(user, paper_id, kind):
            raise HTTPException(status_code=404, detail=f"user {user} has no {kind} of paper {paper_id}")
        return user_out(users, user)


_marking_routes(LIKE, "likes")
_marking_routes(DISLIKE, "dislikes")


@router.post("/users/{user}/seen", response_model=SeenOut)
def add_seen(user: UserName, ids: list[PaperId], served: Served, users: Users) -> SeenOut:
    """Papers the user has seen (a JSON list of ids): never recommended to them again. Only ids of
    indexed papers are kept (the others come back in `unknown_ids`): a client cannot fill the disk."""
    if len(ids) > MAX_SEEN_BATCH:
        raise HTTPException(status_code=413, detail=f"at most {MAX_SEEN_BATCH} ids per call")
    index = served.index
    known, unknown = [], []
    for paper_id in dict.fromkeys(ids):
        (known if paper_id in index else unknown).append(paper_id)
    users.mark(user, known, SEEN)
    return SeenOut(**user_out(users, user).model_dump(), unknown_ids=unknown)


Diversity = Annotated[float, Query(ge=0.0, le=1.0,
                                   description="0 = pure relevance; up to 1 = maximal marginal relevance")]
Recency = Annotated[float | None, Query(gt=0, le=36500, description="half-life in days favouring newer papers")]


LikedTitles = Field(default_factory=dict, description="the title of each liked paper named in a result's `because`")


class ReaderRecommendations(UserRecommendations):
    liked_titles: dict[str, str] = LikedTitles


def liked_titles(index: PaperIndex, papers: list[PaperOut]) -> dict[str, str]:
    """{id: title} of the liked papers the results name in `because` (a paper deleted since is left out)."""
    ids = dict.fromkeys(paper_id for paper in papers for paper_id in paper.because or ())
    rows, _ = index.rows_of(list(ids))
    return {index.papers[row].id: index.papers[row].title for row in rows}


@router.get("/users/{user}/recommendations", response_model=ReaderRecommendations)
def user_recommendations(user: UserName, served: Served, users: Users, filters: ListFilters,
                         k: K = 10, offset: Offset = 0, diversity: Diversity = 0.0,
                         recency: Recency = None) -> ReaderRecommendations:
    """What to read next: never a liked, disliked or seen paper; each result says which likes drove
    it (`because`, their titles in `liked_titles`)."""
    hits, reason = ranking.recommend_for_reader(served.index, users.get(user), k, offset, filters, diversity, recency)
    papers = paper_list(served, hits)
    return ReaderRecommendations(results=papers, k=k, offset=offset, user=user, reason=reason,
                                 liked_titles=liked_titles(served.index, papers))


class TodayWindow(str, Enum):
    one = "1"
    three = "3"
    seven = "7"


MAX_TODAY_PAPERS = 10_000  # the newest papers of the window that get ranked (the candidates path's limit)
NO_LIKES_TODAY = "no liked papers yet: today's papers newest first; like a few to have them ranked for you"


class TodayPaper(PaperOut):
    new: bool = Field(description="not shown to the reader before this call")


class TodayResults(PaperList):
    results: list[TodayPaper]
    user: str
    days: int
    since: str = Field(description="the window's first day (UTC): papers published on or after it")
    total: int = Field(description="papers in the window (liked and disliked ones left out)")
    new: int = Field(description="of those, papers the reader had not been shown before this call")
    liked_titles: dict[str, str] = LikedTitles
    reason: str | None = Field(None, description="why the papers are not ranked for the reader, when they are not")


@router.get("/users/{user}/today", response_model=TodayResults)
def today_for_reader(user: UserName, served: Served, users: Users, filters: ListFilters,
                     days: Annotated[TodayWindow, Query(description="the last 1, 3 or 7 days")] = TodayWindow.three,
                     k: K = 20, offset: Offset = 0,
                     mark_seen: Annotated[bool, Query(description="mark the papers shown as seen")] = True,
                     ) -> TodayResults:
    """The papers published in the last `days` days (from that many days before today, UTC),
    ranked for the reader from their likes (newest first without likes). The papers of this page
    become seen: `new` counts the window's papers not shown before, and each result says whether
    it is new; seen papers stay in this list (marked not new) and leave the recommendations."""
    index, record = served.index, users.get(user)
    start = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=int(days.value))
    since = max(start, filters.since or start)  # a later `since` narrows the window
    window = Filters(filters.categories, filters.author, since, filters.until)
    own, _ = index.rows_of([*record.likes, *record.dislikes])
    rows = _newest_rows(index, window.with_excluded(own), MAX_TODAY_PAPERS)
    hits, reason = _rank_for(index, record, rows, slice(offset, offset + k))
    seen = set(record.seen)
    page = paper_list(served, hits[offset:offset + k])
    results = [TodayPaper(**paper.model_dump(), new=paper.id not in seen) for paper in page]
    if mark_seen and page:
        users.mark(user, [paper.id for paper in page], SEEN)
    new = sum(index.papers[row].id not in seen for row in rows.tolist())
    return TodayResults(results=results, k=k, offset=offset, user=user, days=int(days.value), since=since.isoformat(),
                        total=len(rows), new=new, liked_titles=liked_titles(index, page), reason=reason)


def _newest_rows(index: PaperIndex, filters: Filters, limit: int) -> np.ndarray:
    """The rows that pass the filters, at most `limit`, newest first (ties by row)."""
    allowed = filters.mask(index)
    rows = np.flatnonzero(allowed) if allowed is not None else np.arange(len(index))
    order = np.lexsort((rows, -index.published_days[rows]))
    return rows[order][:limit]


def _rank_for(index: PaperIndex, record: ranking.Reader, rows: np.ndarray,
              page: slice) -> tuple[list[ranking.Hit], str | None]:
    """The rows ranked for the reader (the recommender's candidates path), or newest first and why;
    only the `page` is explained (because, shared terms)."""
    if len(rows) == 0:
        return [], None
    ids = [index.papers[row].id for row in rows.tolist()]
    try:
        hits, _ = ranking.recommend_ids(index, record.likes, record.dislikes, len(ids), candidate_ids=ids,
                                        explained=page)
    except NoKnownLikes:
        return [ranking.Hit(row, 0.0) for row in rows.tolist()], NO_LIKES_TODAY
    return hits, None


@router.get("/users/{user}/feed.atom", response_class=Response)
def user_feed(user: UserName, request: Request, served: Served, users: Users, filters: ListFilters,
              k: K = 20, recency: Recency = None) -> Response:
    """The user's recommendations as an Atom feed, for a feed reader."""
    hits, reason = ranking.recommend_for_reader(served.index, users.get(user), k, 0, filters, 0.0, recency)
    feed = atom_feed(str(request.url), user, paper_list(served, hits), reason)
    return Response(feed, media_type="application/atom+xml")


def atom_feed(url: str, user: str, papers, reason: str | None) -> bytes:
    atom = "http://www.w3.org/2005/Atom"
    ElementTree.register_namespace("", atom)
    feed = ElementTree.Element(f"{{{atom}}}feed")
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for tag, text in (("id", url), ("title", f"paperlens: papers for {user}"), ("updated", now),
                      ("subtitle", reason or "recommended from your likes")):
        ElementTree.SubElement(feed, f"{{{atom}}}{tag}").text = text
    ElementTree.SubElement(feed, f"{{{atom}}}link", rel="self", href=url)
    for paper in papers:
        entry = ElementTree.SubElement(feed, f"{{{atom}}}entry")
        ElementTree.SubElement(entry, f"{{{atom}}}id").text = _xml_text(paper.url or f"urn:paperlens:{paper.id}")
        ElementTree.SubElement(entry, f"{{{atom}}}title").text = _xml_text(paper.title)
        ElementTree.SubElement(entry, f"{{{atom}}}updated").text = _atom_date(paper.published) or now
        if paper.url:
            ElementTree.SubElement(entry, f"{{{atom}}}link", href=_xml_text(paper.url))
        for name in paper.authors[:20]:
            author = ElementTree.SubElement(entry, f"{{{atom}}}author")
            ElementTree.SubElement(author, f"{{{atom}}}name").text = _xml_text(name)
        because = f"Because you liked {', '.join(paper.because)}. " if paper.because else ""
        ElementTree.SubElement(entry, f"{{{atom}}}summary").text = _xml_text(because + paper.abstract)
    return ElementTree.tostring(feed, encoding="utf-8", xml_declaration=True)


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _xml_text(text: str | None) -> str | None:
    """What XML 1.0 can hold: control characters and lone surrogates (from indexes built before
    ingest stripped them) removed, so the feed stays well-formed."""
    return None if text is None else _NOT_XML.sub("", text)


def _atom_date(published: str | None) -> str | None:
    if not published:
        return None
    parts = (published.split("-") + ["01", "01"])[:3]
    return f"{parts[0]}-{parts[1]}-{parts[2]}T00:00:00Z"


@router.post("/users/{user}/import", response_model=ImportResults)
async def import_library(user: UserName, request: Request, served: Served, users: Users) -> ImportResults:
    """A BibTeX, RIS or CSL-JSON file (multipart field `file`, or the raw body) or a JSON list of
    arXiv ids / DOIs; entries matched to indexed papers (DOI, arXiv id, then title) become likes.
    The answer lists the file's entries the index lacks, and those skipped (not papers) with their
    key and line."""
    content = await _upload(request)
    try:
        if content.lstrip()[:1] == b"[" and not library.is_csl_json(content):
            identifiers = _json_identifiers(content)
            result = library.match_identifiers(served.index, identifiers)
        else:
            result = library.match_library(served.index, content)
    except (BadRecord, UnicodeDecodeError, RecursionError) as error:
        raise HTTPException(status_code=422, detail=f"cannot read the library: {error}") from None
    users.mark(user, result.matched, LIKE)
    return ImportResults(user=user, matched=len(result.matched), unmatched=len(result.unmatched),
                         matched_ids=result.matched, unmatched_entries=result.unmatched,
                         not_in_index=[entry.__dict__ for entry in result.not_in_index],
                         skipped=[entry.__dict__ for entry in result.skipped])


def _json_identifiers(content: bytes) -> list[str]:
    try:
        identifiers = orjson.loads(content)  # refuses deep nesting at once (json recurses until it fails)
    except orjson.JSONDecodeError as error:
        raise HTTPException(status_code=422, detail=f"cannot read the library: not valid JSON ({error})") from None
    if not isinstance(identifiers, list) or not all(isinstance(i, str) for i in identifiers):
        raise HTTPException(status_code=422, detail="a JSON import must be a list of id strings")
    return identifiers  # orjson refuses lone surrogates: every string here is valid Unicode


async def _upload(request: Request) -> bytes:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_IMPORT_BYTES:
        raise HTTPException(status_code=413, detail=f"library larger than {MAX_IMPORT_BYTES} bytes")
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=10)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise HTTPException(status_code=422, detail="multipart import needs a file field named 'file'")
        content = await upload.read(MAX_IMPORT_BYTES + 1)
    else:
        content = await request.body()
    if len(content) > MAX_IMPORT_BYTES:
        raise HTTPException(status_code=413, detail=f"library larger than {MAX_IMPORT_BYTES} bytes")
    if not content.strip():
        raise HTTPException(status_code=422, detail="the library is empty")
    return content


def _liked_papers(index: PaperIndex, user: str, users: UserStore) -> list[Paper]:
    """The user's liked papers that are in the index, oldest like first."""
    rows, _ = index.rows_of(users.get(user).likes)
    return [index.papers[row] for row in rows]


def _download(user: str, suffix: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{user}-likes.{suffix}"'}  # a user name is safe here


@router.get("/users/{user}/likes.bib", response_class=Response)
def export_bibtex(user: UserName, served: Served, users: Users) -> Response:
    """The user's liked papers as a BibTeX file (UTF-8), for a reference manager."""
    text = citations.bibtex(_liked_papers(served.index, user, users))
    return Response(text.encode(), media_type="application/x-bibtex; charset=utf-8", headers=_download(user, "bib"))


@router.get("/users/{user}/likes.json", response_class=Response)
def export_csl_json(user: UserName, served: Served, users: Users) -> Response:
    """The user's liked papers as CSL-JSON (Zotero, Mendeley, pandoc)."""
    items = citations.csl_json(_liked_papers(served.index, user, users))
    return Response(orjson.dumps(items, option=orjson.OPT_INDENT_2),
                    media_type="application/vnd.citationstyles.csl+json", headers=_download(user, "json"))
