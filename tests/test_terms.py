"""The unknown-term rules (qa/terms.py) on their own: names and counted nouns found in questions, and when
they count as known."""

from __future__ import annotations

import pytest

from qa.index.keywords import tokenize
from qa.search.terms import counted_noun, name_bigrams, question_names, unknown_terms
from qa.text import fold, squeeze

SEEDS_LIKE = "邵阳市中心医院专科联盟增至28个，有护士1200名。荆州市第一人民医院卒中中心综合排名位居全国第59。"


def bigrams(text: str) -> set[str]:
    return set(tokenize(text, "bigram"))


def unknown(question: str, documents: str = SEEDS_LIKE) -> list[str]:
    return unknown_terms(question, bigrams(documents), squeeze(fold(documents)))


def test_names_are_found_longest_first_and_folded():
    assert "襄阳" in question_names("襄阳市中心医院的卒中中心在全国排第几？")
    assert "荆州" in question_names("荊州二醫在封城期間接診了多少發熱患者？")  # traditional folded first
    assert question_names("量子计算机的工作原理是什么？") == ()


def test_administrative_suffix_is_dropped():
    assert name_bigrams("邵阳市") == ["邵阳"]
    assert name_bigrams("襄阳") == ["襄阳"]


def test_unknown_name_only_when_no_bigram_is_in_the_documents():
    assert unknown("襄阳市中心医院的卒中中心在全国排第几？") == ["襄阳"]
    assert unknown("荆州一医卒中中心在全国排第几？") == []
    assert unknown("邵阳市中心医院有多少个专科联盟？") == []


@pytest.mark.parametrize(
    ("question", "noun"),
    [
        ("十堰市中西医结合医院一年的门诊量有多少？", "门诊量"),  # before 多少, through 有
        ("邵阳市中心医院有多少名护士？", "护士"),  # after 多少, past the measure word
        ("荆州二医在封城期间接诊了多少发热患者？", "患者"),  # past a modifier, to the head noun
        ("醫院有幾個病區？", "病区"),  # 几, traditional characters folded
        ("黑龙江汉人约占多少比例？", None),  # a dimension, stated as a number
        ("妇产科的剖宫产率是多少？", None),  # any …率 too
        ("他几乎每天都去医院吗？", None),  # 几乎 is not 几
        ("或多或少有些帮助吗？", None),
        ("荆州一医的党委书记是谁？", None),  # not a how-many question
        ("邵阳市中心医院转诊了多少个县里的重症病人？", "病人"),  # through 的 to what it leads to, not 县里
        ("荆州二医把分院改成“小汤山”医院一共用了几天？", None),  # before 了 a verb (jieba tags 共用 a noun)
        ("荆州二医全院原本有几个党支部来着？", "党支部"),  # an abbreviation (j) counted, not the noun before 有
    ],
)
def test_counted_noun(question, noun):
    assert counted_noun(question) == noun


def test_counted_noun_unknown_only_when_the_documents_never_say_it():
    assert unknown("十堰市中西医结合医院一年的门诊量有多少？", "十堰市中西医结合医院优化门诊服务流程。") == ["门诊量"]
    assert unknown("邵阳市中心医院有多少名护士？") == []  # 护士 is in the documents
    assert unknown("襄阳市中心医院有多少名医生？") == ["襄阳", "医生"]  # names first, then the counted noun


def test_a_name_inside_a_common_word_is_not_meant():
    """新党 (a party in Taiwan) inside 新党员 (new Party members); 党员 is what the documents say."""
    documents = "十堰市中西医结合医院近3年新发展党员33人，医院党员人数达到145人。"
    assert unknown("十堰市中西医结合医院近3年发展了多少新党员？", documents) == []
    assert unknown("十堰市中西医结合医院有多少名新护士？", documents) == ["护士"]  # 护士 is not in these


def test_a_place_name_that_starts_inside_a_word_is_not_meant():
    """长治 (a city) in 擅长治疗 and 道里 (a district) in 报道里 start inside a word: no place is named there."""
    assert unknown("区二院泌尿外科擅长治疗哪些疾病？") == []
    assert unknown("区二院那篇报道里，今年的医师节是第几个？") == []
    assert unknown("荆州一医的医生去长治交流了吗？") == ["长治"]


def test_an_occupation_is_not_a_post():
    """哪位医生 / 哪位专家 asks for a person, which any doctor named answers (主任医师罗永波); 院长是谁 asks for the
    holder of a post, which its passage must name."""
    from qa.search.attributes import Asked, asked_roles

    def who(question: str, term: str) -> tuple[str, ...]:
        return asked_roles(Asked("person", None, ((term,),)), question)

    assert who("区二院是哪位医生第一时间接诊了那名脑梗患者？", "医生") == ()
    assert who("荆州二医哪位专家入选了荆楚名医工作室？", "专家") == ()
    assert who("荆州一医的院长是谁？", "院长") == ("院长",)
    assert who("急诊科主任是谁？", "急诊科主任") == ("主任",)
    # a deputy asked for is named as one (副区长李彤), where 区长 alone must not be a deputy
    assert who("哪位副区长去了区二院的医师节活动？", "副区长") == ("副区长",)
    from qa.search.attributes import names_role

    assert names_role("副区长", "副区长李彤参加活动") and not names_role("区长", "副区长李彤参加活动")


def test_a_demonstrative_is_no_part_of_an_organisation_name():
    """jieba tags 那阵子 (those days) as a person's name; in front of 荆州二医 it must not make an unknown
    organisation 那阵子荆州二医 (which refused an answerable question as naming something the documents never do)."""
    from qa.index.entities import fast_tokens, org_mentions

    assert org_mentions(fast_tokens("疫情最难那阵子荆州二医门诊看了多少人次")) == ["荆州二医"]


def test_the_general_classifier_takes_any_count():
    from qa.search.attributes import has_measure

    assert has_measure("个", "被选为青年骨干人才的有8名") and has_measure("个", "统筹推进一院三区建设")
    assert not has_measure("个", "统筹推进院区建设") and not has_measure("张", "共有8名护士")


def test_a_date_is_not_a_count():
    """多少 asks for a count: the numbers of a date or a length of time are none (2021年8月1日, 3年来)."""
    from qa.search.attributes import Asked, answer_near_terms, kinds_in

    assert "number" not in kinds_in("2021年8月1日，发热患者洪某前往荆州一医就诊。")
    assert "number" not in kinds_in("3年来，先后购置血管造影机")
    assert "number" in kinds_in("累计接诊发热患者近4000人次") and "number" in kinds_in("合格率为100%")
    fever = Asked("number", None, (("发热患者",),))
    assert answer_near_terms(fever, "2021年8月1日，发热患者洪某前往荆州一医就诊。") == 0.0
    assert answer_near_terms(fever, "累计接诊发热患者近4000人次") == 1.0


def test_a_date_or_an_age_is_asked_in_its_unit():
    """哪个月 asks what 几月 asks (a month: 2020年 alone does not answer it), 哪天 what 几号 asks (日 and 号 are one
    group), 多大年纪 what 几岁 asks; an English "what month" / "which day" / "in what year" alike. 什么时候 leaves
    the unit open."""
    from qa.search.attributes import asked, has_measure

    for question, unit in (("防治卒中中心具体哪个月挂的牌？", "月"), ("几月挂的牌？", "月"), ("医院哪天清零的？", "日"),
                           ("医院几号清零的？", "号"), ("医院是哪一年成立的？", "年"), ("罗永波多大年纪？", "岁"),
                           ("他今年几岁？", "岁"), ("什么时候挂的牌？", None)):
        assert asked(question).measure == unit, question
    for question, unit in (("In what month was the centre certified?", "月"), ("On what day did it open?", "日"),
                           ("Which year was it founded?", "年"), ("When was it founded?", None)):
        assert asked(question, cross_lingual=True).measure == unit, question
    year_only = "2020年，防治卒中中心顺利通过验收并挂牌"
    assert has_measure("年", year_only) and not has_measure("月", year_only) and not has_measure("日", year_only)
    assert has_measure("月", "2023年5月直线加速器投入使用") and has_measure("日", "2020年12月9日，新建发热门诊")
    assert has_measure("日", "3月16号") and has_measure("岁", "患者今年56岁")
    assert not has_measure("岁", "主治医师罗永波")


def test_a_numeral_inside_a_set_phrase_is_not_a_count():
    """四位一体 reads like "four people" (位 counts people), but jieba's dictionary knows it as a fixed expression;
    an idiom's numerals (一心一意) count nothing either. The same numeral outside one still counts."""
    from qa.search.attributes import Asked, answer_near_terms, has_measure, kinds_in

    sentence = "创新建立党总支书记、大科室主任、教研室主任和大科护士长四位一体联动机制"
    assert "number" not in kinds_in(sentence) and not has_measure("名", sentence)
    assert answer_near_terms(Asked("number", None, (("护士",),)), sentence) == 0.0
    assert "number" not in kinds_in("全院上下一心一意为患者服务")
    assert "number" in kinds_in("四位护士长参加了培训") and has_measure("名", "四位护士长参加了培训")


def test_a_person_beside_a_role_is_a_surname_and_a_name():
    """谁 / 院长是谁 is answered by a name beside the role (院长李永兵), not by the role beside any word
    (院长负责制, 医生飞奔, 护士立即开通)."""
    from qa.search.attributes import kinds_in, names_role

    named = ("区二院党委书记、院长李永兵讲廉政党课", "主治医师罗永波第一时间接诊了患者", "发热患者洪某前往")
    for text in named:
        assert "person" in kinds_in(text), text
    for text in ("全面落实党委领导下的院长负责制", "医生飞奔在路上", "分诊护士立即开通了绿色通道", "书记带头讲党课"):
        assert "person" not in kinds_in(text), text
    assert names_role("院长", "区二院党委书记、院长李永兵讲廉政党课")
    assert names_role("书记", "区二院党委书记、院长李永兵讲廉政党课")  # the last of one person's roles names him
    assert not names_role("院长", "全面落实党委领导下的院长负责制，建立健全院长办公会议事决策制度")
    assert not names_role("院长", "在“中医博士团”陈松副院长、徐荣鹏博士的带领下")  # a deputy holds no 院长
    assert names_role("院长", "该院党委副书记、院长刘天云信心满满")
    assert not names_role("书记", "该院党委副书记、院长刘天云信心满满")


def test_a_name_asked_for_is_a_title_in_book_marks_or_quotes():
    """叫什么 / 哪个小品 / which song ask for a name, which Chinese writes in 《》 or “”."""
    from qa.search.attributes import asked, kinds_in

    for question in ("区二院医师节演出里的微党课叫什么？", "演了哪个小品？", "那个村叫什么名字？"):
        assert asked(question).kind == "title", question
    for question in ("Which song was performed at the show?", "What is the Guanju campus also called?"):
        assert asked(question, (), True).kind == "title", question
    assert asked("区二院的院长叫什么？").kind == "person"  # a role's holder is a person
    for question in ("入选骨干人才的这两个人叫什么？", "那位专家叫啥名字？", "这些患者分别叫什么？"):
        assert asked(question).kind == "person", question  # people's names: a person, not a title
    assert "title" in kinds_in("微党课《一个战斗英雄与乡村医务人员的故事》")
    assert "title" in kinds_in("以“三降一合理”为抓手")
    assert "title" not in kinds_in("区二院在医师节前举办庆祝第六届中国医师节暨职工文化艺术节演出活动")


def test_a_question_has_a_question_form():
    from qa.search.attributes import is_question

    assert all(is_question(q) for q in ("荆州一医有多少张床位", "区二院的院长是谁", "说出一种常见的自身免疫性疾病。",
                                        "Is it finished", "X.25 uses what type network type", "Name a Toyota brand"))
    assert not any(is_question(q) for q in ("information", "Good morning", "测试一下", "荆州一医的床位"))


def test_empty_and_odd_questions():
    assert unknown_terms("", set(), "") == []
    assert unknown_terms("？？？ 1234 abc", set(), "") == []
    assert unknown_terms("多少？", set(), "") == []


def test_what_an_english_how_many_counts_takes_its_noun_senses():
    """"How many nurses" counts 护士; CC-CEDICT's "to nurse" (护理, 哺乳, 看护) is a verb's sense and would match
    every sentence about nursing care. A word that is not counted keeps every sense."""
    from qa.glossary import english_terms
    from qa.search.attributes import asked

    nurses = asked("How many nurses does Shaoyang Central Hospital employ?", (), True).terms[0]
    assert "护士" in nurses and "护理" not in nurses and "哺乳" not in nurses
    assert "护理" in english_terms("nursing care nurse")[-1]  # not counted: the verb's senses too
    beds = asked("How many intensive care beds are there?", (), True).terms
    assert any("床位" in candidates for candidates in beds)


def test_an_english_word_the_dictionary_cannot_render_still_counts_as_a_word():
    """div and CSS have no CC-CEDICT rendering: the terms leave them out, the word count keeps them, so the
    decision's words_rendered sees that the documents say one word of three."""
    from qa.search.attributes import asked

    junk = asked("How do I center a div in CSS?", (), True)
    assert junk.words == 3 and len(junk.terms) == 1
    beds = asked("How many beds does the hospital have?", (), True)
    assert beds.words == len(beds.terms) == 1
    chinese = asked("荆州二医接诊了多少发热患者？", ("荆州二医",), False)
    assert chinese.words == len(chinese.terms)


def test_which_several_asks_for_names_not_a_count():
    """哪几种方式 / 哪几个科室 ask which ones, as 哪些 does: no count and no measure word a passage must count with
    (荆州二医治疗三叉神经痛有哪几种方式？ was refused for want of 种); 哪几位 asks for people; 几个 still counts."""
    from qa.search.attributes import asked

    assert asked("荆州二医治疗三叉神经痛有哪几种方式？").measure is None
    assert asked("区二院有哪几个科室获得了重点专科？").kind is None
    assert asked("荆州二医哪几位专家入选了名医工作室？").kind == "person"
    counts = asked("荆州一医有几个院区？")
    assert (counts.kind, counts.measure) == ("number", "个")


def test_what_the_interrogative_governs():
    """The focus of a question is what its interrogative governs: the noun after it (measure words skipped), the
    verb after it (with its object), else the word before it. A sentence about the right thing that says none of it
    (a planting base, but no 县) states something else about it."""
    from qa.search.attributes import asked, focus_share

    assert asked("那个种植基地在哪个县？").focus == (("县",),)
    assert asked("荆州一医一共有多少张床位？", ("荆州一医",)).focus == (("床位",),)
    assert asked("最美清廉家庭是按什么标准评的？").focus[0] == ("标准",)
    assert asked("肥胖与减重中心是什么时候开诊的？").focus == (("开诊",),)
    assert asked("荆州二医接诊了多少发热患者？", ("荆州二医",)).focus == (("发热",), ("患者",))
    assert asked("区二院的院长是谁？", ("区二院",)).focus == (("院长",),)
    assert asked("交流的题目是什么？").focus == (("题目",),)
    assert asked("这7个具体是哪些？").focus == ()
    english = asked("How many nurses does it have?", (), True).focus
    assert english and "护士" in english[0]
    assert asked("Who is the president?", (), True).focus == ()
    assert focus_share(asked("那个种植基地在哪个县？"), "建立中药材种植应用研究基地") == 0.0
    assert focus_share(asked("那个种植基地在哪个县？"), "基地位于郧西县") == 1.0
    assert focus_share(asked("这7个具体是哪些？"), "7个共建项目") == -1.0


def test_british_spelling_and_a_role_in_an_organisation():
    """CC-CEDICT writes English the American way and glosses 院长 as "president of a university": "stroke centre"
    reaches 中心, and the president or head of a hospital reaches 院长, as the director reaches 主任. A word the
    dictionary knows keeps its spelling (four is not for, hour not hor)."""
    from qa.glossary import american, english_terms

    assert [american(w) for w in ("centre", "tumours", "paediatric", "organised", "four", "hour")] == [
        "center", "tumors", "pediatric", "organized", "four", "hour"]
    assert any("中心" in t for t in english_terms("stroke centre"))
    assert "院长" in english_terms("president")[0]
    assert "院长" in english_terms("head")[0]


def test_a_deputy_asked_for_and_named():
    """副院长 / the vice president / the deputy director ask for a deputy; a deputy holds no post itself (陈松副院长
    names no 院长), and the holder's name may come after further titles (副主任，副主任医师朱西)."""
    from qa.search.attributes import asked, asked_roles, names_role

    assert asked_roles(asked("邵阳市中心医院党委副书记是谁？"), "邵阳市中心医院党委副书记是谁？") == ("副书记",)
    question = "Who is the deputy director of the urology department?"
    assert "副主任" in asked_roles(asked(question, (), True), question)
    assert names_role("副书记", "该院党委副书记、院长刘天云信心满满")
    assert names_role("副主任", "泌尿外科、男科副主任，副主任医师朱西为一名特殊的患者")
    assert not names_role("主任", "泌尿外科、男科副主任，副主任医师朱西为一名特殊的患者")
    assert names_role("副院长", "荆州二医副院长、荆州市突出贡献人才、放射介入科学科带头人汪建成入选")
    assert not names_role("院长", "荆州二医副院长、荆州市突出贡献人才、放射介入科学科带头人汪建成入选")
    assert names_role("副院长", "在“中医博士团”陈松副院长、徐荣鹏博士的带领下")
    assert not names_role("院长", "全面落实党委领导下的院长负责制，高质量发展")
