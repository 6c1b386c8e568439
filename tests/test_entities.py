"""The entity layer on the seed articles: what each document is about, aliases, and names in questions
(Chinese and English), without the model."""

from __future__ import annotations

import pytest
from conftest import SEEDS

from qa.index.entities import EntityTable, english_name, same_organisation
from qa.ingest.documents import load_documents, split_passages
from qa.search.mentions import MentionFinder
from qa.text import fold, squeeze

DOCS = {
    "000_769629a9341062f1": "荆州二医",
    "001_fb1151e4e454f8fb": "荆州市第一人民医院",
    "002_3a274bbbdd8f06d7": "江津区第二人民医院",
    "003_05d70a71f3258940": "邵阳市中心医院",
    "004_418b4fb8ab4a92f7": "十堰市中西医结合医院",
}


@pytest.fixture(scope="module")
def seeds():
    docs = load_documents([SEEDS])
    passages = [p for d in docs for p in split_passages(d)]
    table = EntityTable.build(docs, passages)
    corpus = "\n".join(squeeze(fold(p.text)) for p in passages)
    return table, MentionFinder(table, lambda s: s in corpus), passages


def test_each_article_is_about_its_hospital(seeds):
    table, _, _ = seeds
    assert {doc: table.main_entity(doc).name for doc in DOCS} == DOCS


def test_aliases_come_from_the_articles(seeds):
    table, _, _ = seeds
    by_name = {e.name: e for e in table.subjects()}
    assert "荆州一医" in by_name["荆州市第一人民医院"].aliases
    assert "区二院" in by_name["江津区第二人民医院"].aliases  # declared: （以下简称“区二院”）
    assert "市中心医院" in by_name["邵阳市中心医院"].aliases  # the article never writes 邵阳市中心医院
    assert by_name["荆州市第一人民医院"].ordinal == 1 and by_name["荆州二医"].ordinal == 2
    assert by_name["十堰市中西医结合医院"].place == "十堰"
    # how a question writes each: the shortest alias of four or more characters that keeps its place
    assert by_name["荆州市第一人民医院"].short_name == "荆州一医"
    assert by_name["十堰市中西医结合医院"].short_name == "十堰市中西医结合医院"  # not 市中西医结合医院


def test_an_abbreviation_writes_no_word_its_name_lacks():
    """十堰市中医医院 (a TCM hospital) has its characters in order in 十堰市中西医结合医院, but 中医 is a word of its
    own: another hospital. The abbreviations the articles use still are."""
    assert not same_organisation("十堰市中医医院", "十堰市中西医结合医院")
    assert not same_organisation("邵阳中医院", "邵阳市中心医院")
    for short, name in [("十堰中西医结合医院", "十堰市中西医结合医院"), ("荆州二医", "荆州市第二人民医院"),
                        ("区二院", "江津区第二人民医院"), ("邵阳中心医院", "邵阳市中心医院")]:
        assert same_organisation(short, name), short


def test_abbreviation_rule():
    assert same_organisation("荆州二医", "荆州市第二人民医院")
    assert same_organisation("区二院", "江津区第二人民医院")
    assert not same_organisation("荆州一医", "荆州市第二人民医院")  # the ordinal differs
    assert not same_organisation("二医院", "荆州市第二人民医院x")  # another head
    assert same_organisation("荆州二院", "荆州二医") and same_organisation("荆州二医", "荆州二院")  # 二医 = 二院
    assert not same_organisation("荆州三院", "荆州二医")


def test_passages_that_name_an_entity_are_recorded(seeds):
    table, _, passages = seeds
    jingzhou1 = next(e for e in table.subjects() if e.name == "荆州市第一人民医院")
    rows = table.passages[jingzhou1.id]
    assert rows and all(passages[r].doc_id == "001_fb1151e4e454f8fb" for r in rows)


@pytest.mark.parametrize(("question", "named"), [
    ("荆州一医一共有多少张床位？", "荆州市第一人民医院"),
    ("十堰中西医结合医院的呢？", "十堰市中西医结合医院"),  # written without 市
    ("荆州市第二人民医院有几个院区？", "荆州二医"),  # the full name of an abbreviation
    ("江津区二院的患者满意度怎么样？", "江津区第二人民医院"),
    ("邵阳市中心医院的胸痛中心建得怎么样了？", "邵阳市中心医院"),
    ("What about Jingzhou First People's Hospital?", "荆州市第一人民医院"),
    ("What did Jingzhou No.2 Hospital donate?", "荆州二医"),
    ("Does Jiangjin District No.2 have one?", "江津区第二人民医院"),
    ("How many nurses does Shaoyang Central Hospital employ?", "邵阳市中心医院"),
    ("What about the Shiyan integrated medicine hospital?", "十堰市中西医结合医院"),
    ("And the First Hospital?", "荆州市第一人民医院"),
    # abbreviated with 院 where the article writes 医, or written behind the province or city around its place
    ("荆州二院在封城期间接诊了多少发热患者？", "荆州二医"),
    ("荆州市二院有几个院区？", "荆州二医"),
    ("湖北省荆州市第二人民医院在哪里？", "荆州二医"),
    ("湖北荆州一医的卒中中心排第几？", "荆州市第一人民医院"),
    ("重庆江津区第二人民医院的院训是什么？", "江津区第二人民医院"),
    ("湖南邵阳市中心医院建了什么平台？", "邵阳市中心医院"),
    ("How many beds does Jingzhou No. 1 Hospital have?", "荆州市第一人民医院"),  # "No. 1", with a space
    ("Jiangjin No. 2 Hospital's motto?", "江津区第二人民医院"),
    ("How many Party branches does the Shiyan hospital have?", "十堰市中西医结合医院"),  # one hospital there
    # possessives: the hospital's own (Hospital's), a part after it (First's stroke centre), a name behind one
    ("What is Shaoyang Central Hospital's stroke center ranking?", "邵阳市中心医院"),
    ("And Jingzhou First's stroke centre — where does it rank nationally?", "荆州市第一人民医院"),
    ("How many times did Shaoyang's central hospital send doctors?", "邵阳市中心医院"),
    # 一医 / 二医 / 二院 alone: the one hospital an alias of which ends in them
    ("那二医呢？", "荆州二医"),
    ("一医的党委书记是谁？", "荆州市第一人民医院"),
    ("二院的院长是谁？", "江津区第二人民医院"),
])
def test_questions_name_the_hospital(seeds, question, named):
    table, finder, _ = seeds
    found = finder.find(question)
    assert named in [table.by_id[e].name for e in found.entities], found
    assert not found.unknown


@pytest.mark.parametrize(("question", "unknown"), [
    ("襄阳市中心医院的卒中中心在全国排第几？", "襄阳市中心医院"),
    ("宜昌市第一人民医院有多少床位？", "宜昌市第一人民医院"),
    ("荆州市中心医院在哪里？", "荆州市中心医院"),  # a known city, an unknown hospital
    ("荆州三院有多少床位？", "荆州三院"),  # a known city, another ordinal
    ("湖北襄阳市中心医院的院长是谁？", "襄阳市中心医院"),  # a province before an unknown hospital
    ("How many beds does Xiangyang Central Hospital have?", "Xiangyang"),
    ("Where is Jingzhou Central Hospital?", "Jingzhou Central Hospital"),
])
def test_hospitals_the_articles_never_mention_are_unknown(seeds, question, unknown):
    table, finder, _ = seeds
    found = finder.find(question)
    assert any(unknown in u for u in found.unknown), found
    assert not [e for e in found.entities if table.by_id[e].main_of], found


def test_each_hospital_has_an_english_name_that_names_it(seeds):
    """What an English follow-up writes for a hospital the user never named (the subject of an answer)."""
    table, finder, _ = seeds
    names = {doc: english_name(table.main_entity(doc)) for doc in DOCS}
    assert names["001_fb1151e4e454f8fb"] == "Jingzhou No.1 People's Hospital"
    assert names["003_05d70a71f3258940"] == "Shaoyang Central Hospital"
    for doc, name in names.items():
        assert table.main_entity(doc).id in finder.find(f"Who is the president of {name}?").entities, name
    assert english_name(next(e for e in table.entities if e.kind == "place")) is None


@pytest.mark.parametrize("question", ["Does Shaoyang Children's Hospital offer painless delivery?",
                                      "Does Shaoyang Maternity Hospital offer painless delivery?"])
def test_an_english_name_with_words_the_citys_hospital_lacks_is_another_hospital(seeds, question):
    """Shaoyang's one hospital in the articles is its Central Hospital: a name with words of its own none of which
    is that hospital's is another one, unknown (before, 邵阳市中心医院's passages answered it)."""
    table, finder, _ = seeds
    found = finder.find(question)
    assert not [e for e in found.entities if table.by_id[e].kind == "org"] and found.unknown, found


@pytest.mark.parametrize(("question", "named"), [
    ("Who heads Shaoyang City Central Hospital?", "邵阳市中心医院"),  # central ~ 中心's gloss center
    ("Who gave the Party lecture at Jiangjin District 2nd People's Hospital?", "江津区第二人民医院"),  # "2nd"
    ("How many Party members does the Shiyan Hospital of Integrated Traditional Chinese and Western Medicine have?",
     "十堰市中西医结合医院"),
])
def test_english_names_of_the_articles_hospitals_stay_named(seeds, question, named):
    table, finder, _ = seeds
    found = finder.find(question)
    assert named in [table.by_id[e].name for e in found.entities] and not found.unknown, found


def test_a_name_of_a_kind_is_no_unknown_hospital(seeds):
    """"Chongqing hospitals" (plural) names a kind, not a hospital the articles lack; and "American Heart
    Association" shares one gloss (heart: 中心) with 邵阳市中心医院 by chance, naming no place: not that hospital."""
    table, finder, _ = seeds
    assert not finder.find("Which Chongqing hospitals sent experts to lecture there?").unknown
    found = finder.find("Which hospital set up an American Heart Association first-aid training centre?")
    assert not [e for e in found.entities if table.by_id[e].kind == "org" and table.by_id[e].main_of]


def test_a_hospital_written_all_in_lower_case_is_named(seeds):
    """jingzhou no.2 hospital as a user types it: the hospital, written back as typed; an unknown one in lower
    case is still unknown; ordinary lower-case words are never names."""
    table, finder, _ = seeds
    found = finder.find("jingzhou no.2 hospital number of party branches")
    assert found.spans == (("jingzhou no.2 hospital", table.main_entity("000_769629a9341062f1").id),), found
    found = finder.find("shiyan integrated medicine hospital ecmo yes or no")
    assert found.entities == (table.main_entity("004_418b4fb8ab4a92f7").id,), found
    assert any("Xiangyang" in u for u in finder.find("how many beds does xiangyang central hospital have").unknown)
    assert not finder.find("tell me more about the hospital info pls")
    # in a question with capitals of its own too (it was read as naming no hospital, so a swap of it was answered
    # with the other Jingzhou hospital's passage); there, a lower-case place alone is no name
    found = finder.find("How many Party members from jingzhou first people's hospital went down to communities?")
    assert found.spans == (("jingzhou first people's hospital", table.main_entity("001_fb1151e4e454f8fb").id),), found
    assert not finder.find("Who leads China in shiyan?").entities


def test_a_place_with_two_hospitals_is_not_an_unknown_one(seeds):
    table, finder, _ = seeds
    found = finder.find("How many fever patients did the Jingzhou hospital receive?")
    assert not found.unknown and not [e for e in found.entities if table.by_id[e].kind == "org"], found


def test_round_trip(tmp_path, seeds):
    table, _, _ = seeds
    table.save(tmp_path)
    again = EntityTable.load(tmp_path)
    assert [e.name for e in again.entities] == [e.name for e in table.entities]
    assert again.main == table.main and again.passages == table.passages


@pytest.mark.parametrize("question", ["邵阳市中心医院承担哪些县市医院的结对指导？", "省市医院派了多少专家？"])
def test_hospitals_of_two_levels_are_no_name(seeds, question):
    """县市医院 (county and city hospitals) names no hospital: it is not an unknown one."""
    _, finder, _ = seeds
    assert not finder.find(question).unknown


def test_a_name_the_tagger_splits_into_a_surname_and_a_word_is_a_person(seeds):
    """学科带头人汪建成: jieba cuts 汪 / 建成 ("built"); a surname after a role and the word after it is a name
    when the document writes it twice, not a prefix of a longer name (毛以 of 毛以国)."""
    table, finder, _ = seeds
    people = {e.name for e in table.entities if e.kind == "person"}
    assert {"汪建成", "毛以国"} <= people and "毛以" not in people
    mentions = finder.find("荆州二医副院长、放射介入科学科带头人汪建成")
    assert any(table.by_id[eid].name == "汪建成" for eid in mentions.entities)


def test_an_index_built_by_other_entity_rules_is_rebuilt(tmp_path):
    """An upgrade that finds entities otherwise refreshes them on the next `qa build`, though no source changed."""
    import json

    from click.testing import CliRunner

    from qa.cli.main import cli

    index = tmp_path / "index"
    runner = CliRunner()
    assert runner.invoke(cli, ["build", "--source", str(SEEDS), "--index", str(index)]).exit_code == 0
    again = runner.invoke(cli, ["build", "--source", str(SEEDS), "--index", str(index)])
    assert "up to date" in again.output
    for name in ("manifest.json", "entities.json"):  # as an older version wrote them
        data = json.loads((index / name).read_text(encoding="utf-8"))
        (data["entities"] if name == "manifest.json" else data).pop("rules")
        (index / name).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert "汪建成" in (index / "entities.json").read_text(encoding="utf-8")
    rebuilt = runner.invoke(cli, ["build", "--source", str(SEEDS), "--index", str(index)])
    assert rebuilt.exit_code == 0 and "up to date" not in rebuilt.output, rebuilt.output
    manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["entities"]["rules"] >= 2



@pytest.mark.parametrize("question", ["二院制是什么？", "什么是二院制议会"])
def test_a_numbered_abbreviation_fused_with_a_suffix_is_no_hospital(seeds, question):
    table, finder, _ = seeds
    assert not [e for e in finder.find(question).entities if table.by_id[e].kind == "org"]


@pytest.mark.parametrize(("question", "name"), [("二医全院有多少个党支部？", "荆州二医"),
                                                ("ok 那一医核酸采了多少人次", "荆州市第一人民医院")])
def test_a_numbered_abbreviation_before_a_word_is_the_hospital(seeds, question, name):
    table, finder, _ = seeds
    assert [table.by_id[e].name for e in finder.find(question).entities if table.by_id[e].kind == "org"] == [name]
