"""Reading order and paragraphs from positioned lines (watcher.layout, pure)."""

from __future__ import annotations

from watcher.layout import TextLine, to_text

BODY = 10.0
PITCH = 15.0  # baseline to baseline for body lines
PAGE = (600.0, 800.0)  # width, height


def col_lines(
    texts: list[str],
    *,
    x0: float,
    width: float,
    top: float,
    size: float = BODY,
    pitch: float = PITCH,
    page: int = 0,
    indent_first: bool = False,
    full: bool = True,
) -> list[TextLine]:
    """Lines set in a column; each runs to the right edge unless ``full`` is False."""
    out = []
    for k, text in enumerate(texts):
        left = x0 + (2 * size if indent_first and k == 0 else 0)
        right = x0 + width if full else left + len(text) * size
        out.append(TextLine(text, left, top + k * pitch, right, top + k * pitch + size, size, page))
    return out


def line(
    text: str, x0: float, top: float, *, size: float = BODY, page: int = 0, width: float = 0
) -> TextLine:
    return TextLine(text, x0, top, x0 + (width or len(text) * size), top + size, size, page)


def test_two_columns_are_read_left_then_right() -> None:
    left = col_lines(["左一", "左二", "左三"], x0=40, width=250, top=100)
    right = col_lines(["右一", "右二", "右三"], x0=310, width=250, top=100)
    # Given in the order a content stream might draw them: row by row.
    lines = [ln for pair in zip(left, right, strict=True) for ln in pair]
    assert to_text([lines], [PAGE[1]]) == "左一左二左三右一右二右三"


def test_a_headline_across_two_columns_comes_first() -> None:
    head = [line("标题横跨两栏", 40, 60, size=20, width=520)]
    left = col_lines(["左栏第一行", "左栏第二行"], x0=40, width=250, top=100)
    right = col_lines(["右栏第一行", "右栏第二行"], x0=310, width=250, top=100)
    text = to_text([right + left + head], [PAGE[1]])
    assert text == "# 标题横跨两栏\n\n左栏第一行左栏第二行右栏第一行右栏第二行"


def test_paragraph_gaps_at_the_same_height_do_not_interleave_columns() -> None:
    # Both columns have white space between rows 2 and 3: a plain X-Y cut would cut the
    # band there and read left-top, right-top, left-bottom, right-bottom.
    left = col_lines(["甲一", "甲二"], x0=40, width=250, top=100) + col_lines(
        ["甲三", "甲四"], x0=40, width=250, top=100 + 2 * PITCH + 12
    )
    right = col_lines(["乙一", "乙二"], x0=310, width=250, top=100) + col_lines(
        ["乙三", "乙四"], x0=310, width=250, top=100 + 2 * PITCH + 12
    )
    text = to_text([left + right], [PAGE[1]])
    assert text.split("\n\n") == ["甲一甲二", "甲三甲四乙一乙二", "乙三乙四"]


def test_bands_with_different_column_counts_are_read_in_turn() -> None:
    head1 = [line("第一篇标题", 40, 40, size=20, width=300)]
    two = col_lines(["一左"], x0=40, width=250, top=80) + col_lines(
        ["一右"], x0=310, width=250, top=80
    )
    head2 = [line("第二篇标题", 40, 120, size=20, width=300)]
    three = (
        col_lines(["二甲"], x0=40, width=160, top=160)
        + col_lines(["二乙"], x0=220, width=160, top=160)
        + col_lines(["二丙"], x0=400, width=160, top=160)
    )
    text = to_text([three + head2 + two + head1], [PAGE[1]])
    assert text == "# 第一篇标题\n\n一左一右\n\n# 第二篇标题\n\n二甲二乙二丙"


def test_a_paragraph_runs_on_to_the_next_column_and_page() -> None:
    first = col_lines(["段落开头，", "跨栏"], x0=40, width=250, top=100, indent_first=True)
    second = col_lines(["继续，", "再跨页"], x0=310, width=250, top=100)
    third = col_lines(["完。"], x0=40, width=250, top=60, page=1, full=False)
    text = to_text([first + second, third], [PAGE[1], PAGE[1]])
    assert text == "段落开头，跨栏继续，再跨页完。"


def test_an_indented_line_starts_a_new_paragraph() -> None:
    lines = col_lines(["第一段第一行", "第一段末"], x0=40, width=250, top=100, indent_first=True)
    lines[-1] = line("第一段末。", 40, lines[-1].top)  # a short last line
    lines += col_lines(["第二段", "续"], x0=40, width=250, top=100 + 2 * PITCH, indent_first=True)
    assert to_text([lines], [PAGE[1]]) == "第一段第一行第一段末。\n\n第二段续"


def test_short_lines_set_together_stay_separate_lines() -> None:
    lines = [line("奋斗百年路 启航新征程", 40, 100), line("学党史 悟思想", 40, 100 + PITCH)]
    lines += col_lines(["正文一行", "正文二行"], x0=40, width=250, top=100 + 4 * PITCH)
    text = to_text([lines], [PAGE[1]])
    assert text == "奋斗百年路 启航新征程\n学党史 悟思想\n\n正文一行正文二行"


def test_words_wrapped_across_lines_keep_one_space() -> None:
    lines = col_lines(["Shanghai Cooperation", "Organisation 论坛"], x0=40, width=250, top=100)
    assert to_text([lines], [PAGE[1]]) == "Shanghai Cooperation Organisation 论坛"


def test_a_display_line_inside_a_story_is_a_sub_heading() -> None:
    lines = col_lines(["正文第一段。"], x0=40, width=250, top=100, full=False)
    lines += [line("湘赣一家亲", 40, 100 + 2 * PITCH, size=12.5)]
    lines += col_lines(["正文第二段。"], x0=40, width=250, top=100 + 4 * PITCH, full=False)
    assert to_text([lines], [PAGE[1]]) == "正文第一段。\n\n## 湘赣一家亲\n\n正文第二段。"


def test_a_deck_next_to_a_headline_stays_a_plain_line() -> None:
    lines = [
        line("江西·湖南两省合作发展交流座谈会举行", 40, 60, size=14),
        line("乘势而上，不断开创省际合作新局面", 40, 84, size=20),
        line("副题：许达哲等出席", 40, 112, size=14),
    ]
    body = ["5月6日至7日，湖南省党政代表团赴江西省考察学习。", "7日上午，两省座谈会在南昌举行。"]
    lines += col_lines(body, x0=40, width=520, top=140)
    text = to_text([lines], [PAGE[1]])
    assert text.split("\n\n") == [
        "江西·湖南两省合作发展交流座谈会举行",
        "# 乘势而上，不断开创省际合作新局面",
        "副题：许达哲等出席",
        "".join(body),
    ]


def test_running_heads_and_folios_are_dropped() -> None:
    pages = []
    for number in range(3):
        pages.append(
            [
                line("株洲日报 · 2021年6月4日", 40, 20, size=9, page=number),
                *col_lines([f"第{number}页正文"], x0=40, width=250, top=100, page=number),
                line(f"— {number + 1} —", 280, 780, size=9, page=number),
            ]
        )
    assert to_text(pages, [PAGE[1]] * 3) == "第0页正文第1页正文第2页正文"


def test_a_one_page_masthead_in_the_top_margin_is_kept() -> None:
    lines = [line("株洲日报", 40, 20, size=10)]
    lines += col_lines(["正文。"], x0=40, width=250, top=100, full=False)
    assert to_text([lines], [PAGE[1]]) == "株洲日报\n\n正文。"


def test_nothing_in_gives_nothing_out() -> None:
    assert to_text([[], []], [PAGE[1], PAGE[1]]) == ""


def test_a_short_headline_over_three_columns_still_opens_a_band() -> None:
    # The headline's words end above the second column: a vertical cut at the second
    # gutter would pass beside it and read the third column's top after the new story.
    above = [
        *col_lines(["上一篇甲"], x0=40, width=160, top=40),
        *col_lines(["上一篇乙"], x0=220, width=160, top=40),
        *col_lines(["上一篇丙"], x0=400, width=160, top=40),
    ]
    head = [line("短标题跨栏", 40, 80, size=20, width=240)]
    below = [
        *col_lines(["新篇甲"], x0=40, width=160, top=120),
        *col_lines(["新篇乙"], x0=220, width=160, top=120),
        *col_lines(["新篇丙"], x0=400, width=160, top=120),
    ]
    text = to_text([below + head + above], [PAGE[1]])
    assert text == "上一篇甲上一篇乙上一篇丙\n\n# 短标题跨栏\n\n新篇甲新篇乙新篇丙"


def test_a_headline_over_one_column_of_two_stays_in_it() -> None:
    # Two stories side by side, each with its own one-column headline.
    left = [
        line("左篇标题", 40, 40, size=20),
        *col_lines(["左篇正文第一行"], x0=40, width=250, top=80),
    ]
    right = [
        line("右篇标题", 310, 40, size=20),
        *col_lines(["右篇正文第一行"], x0=310, width=250, top=80),
    ]
    text = to_text([right + left], [PAGE[1]])
    assert text == "# 左篇标题\n\n左篇正文第一行\n\n# 右篇标题\n\n右篇正文第一行"


def test_a_one_character_tail_beside_indented_lines_is_not_a_column() -> None:
    lines = col_lines(
        ["署名记者/邰怡敏 通讯员/朱刚 田"], x0=40, width=250, top=100, indent_first=True
    )
    lines.append(line("富", 40, 100 + PITCH))
    lines += col_lines(
        ["2016年来，淥口区主要经济指标", "均实现快速增长。"],
        x0=40,
        width=250,
        top=100 + 2 * PITCH,
        indent_first=True,
    )
    lines += col_lines(["右栏"], x0=310, width=250, top=100)
    text = to_text([lines], [PAGE[1]])
    # (The right column's line starts a paragraph of its own: the left one ended a
    # sentence at the column's foot.)
    assert text.split("\n\n") == [
        "署名记者/邰怡敏 通讯员/朱刚 田富",
        "2016年来，淥口区主要经济指标均实现快速增长。",
        "右栏",
    ]


def test_words_keep_their_space_across_a_wrap_and_chinese_gets_none() -> None:
    cases = [
        (["the minister said,", "the plan"], "the minister said, the plan"),
        (["the café", "opened"], "the café opened"),
        (["经济发展,", "2021年以来"], "经济发展,2021年以来"),
        (["（2021）.", "Next"], "（2021）.Next"),
        (["in (2021).", "Next"], "in (2021). Next"),
    ]
    for texts, want in cases:
        lines = col_lines(texts, x0=40, width=250, top=100)
        assert to_text([lines], [PAGE[1]]) == want, texts


def test_a_page_of_thousands_of_bands_is_read_without_deep_recursion() -> None:
    # Headline, two columns, headline, two columns … 1,500 times: each band is a region
    # of its own; the cut runs on a stack, not on Python's call stack.
    lines = []
    top = 0.0
    for n in range(1500):
        lines.append(line(f"标题{n}号", 40, top, size=20, width=200))
        lines += col_lines([f"左{n}"], x0=40, width=250, top=top + 30)
        lines += col_lines([f"右{n}"], x0=310, width=250, top=top + 30)
        top += 60
    text = to_text([lines], [top + 100])
    assert text.split("\n\n")[:6] == [
        "# 标题0号",
        "左0右0",
        "# 标题1号",
        "左1右1",
        "# 标题2号",
        "左2右2",
    ]
    assert text.count("# 标题") == 1500


# --- layouts other tools make (tests/docgen.py draws them; these are the rules) ------


def test_a_ragged_headline_is_one_headline_however_short_its_rows() -> None:
    head = [
        line("习近平向上海合作组织民间", 40, 60, size=14),
        line("友好论坛致", 40, 80, size=14),
        line("贺信", 40, 100, size=14),
    ]
    deck = [line("国家主席致信祝贺论坛开幕", 40, 124, size=12)]
    body = col_lines(["新华社电 6月3日，国家主席习近平向论坛致贺信。"], x0=40, width=520, top=150)
    text = to_text([head + deck + body], [PAGE[1]])
    # 1.4× the body size, under the fixed 1.6×: the page's own headline size (the largest
    # type of a block of several sizes) makes it a headline.
    assert text.split("\n\n")[:2] == [
        "# 习近平向上海合作组织民间友好论坛致贺信",
        "国家主席致信祝贺论坛开幕",
    ]


def test_a_bold_headline_at_the_body_size_is_display_type() -> None:
    head = [TextLine("毛伟明在湘潭暗访检查", 40, 60, 240, 70, BODY, bold=True)]
    kicker = [line("安全生产", 40, 44, size=BODY)]
    body = col_lines(["三湘都市报6月17日讯 17日，省长毛伟明在湘潭暗访。"], x0=40, width=520, top=90)
    text = to_text([kicker + head + body], [PAGE[1]])
    assert "## 毛伟明在湘潭暗访检查" in text.split("\n\n")


def test_punctuation_hanging_past_the_measure_leaves_full_lines_full() -> None:
    rows = ["第一行文字排满整个栏宽", "第二行文字也排满栏宽，", "第三行文字排满整个栏宽", "末行。"]
    lines = col_lines(rows[:3], x0=40, width=110, top=100, indent_first=True)
    # The comma hangs half a character past the others (its ink).
    lines[1] = TextLine(rows[1], 40, lines[1].top, 155, lines[1].bottom, BODY)
    lines.append(line(rows[3], 40, 100 + 3 * PITCH))
    assert to_text([lines], [PAGE[1]]) == "".join(rows)


def test_a_headline_set_in_a_column_does_not_cut_the_page_across() -> None:
    # The right column has a paragraph gap beside the headline's last row: that row has
    # nothing beside it, but the headline goes on above, beside text.
    left = col_lines(["左栏正文一", "左栏正文二"], x0=40, width=250, top=100)
    head = [line("栏内标题第一行", 40, 140, size=18), line("第二行", 40, 162, size=18)]
    deck = [line("栏内副题", 40, 186, size=12)]
    left2 = col_lines(["左栏正文三", "左栏正文四"], x0=40, width=250, top=206)
    right = col_lines(["右一", "右二", "右三", "右四"], x0=310, width=250, top=100)
    right += col_lines(["右五", "右六"], x0=310, width=250, top=186)
    text = to_text([left + head + deck + left2 + right], [PAGE[1]])
    assert text.split("\n\n") == [
        "左栏正文一左栏正文二",
        "# 栏内标题第一行第二行",
        "栏内副题",
        "左栏正文三左栏正文四右一右二右三右四",
        "右五右六",
    ]


def bold(ln: TextLine) -> TextLine:
    return TextLine(ln.text, ln.x0, ln.top, ln.x1, ln.bottom, ln.size, ln.page, bold=True)


def test_bold_words_a_line_runs_on_into_are_not_the_next_headline_block() -> None:
    # "…活动。 ■湖" / "南日报记者 刘燕娟" (a bold byline wrapped at the measure), then the
    # next story's headline: the bold row belongs to the paragraph above it.
    text_lines = col_lines(["省领导参加有关活动。 ■湖"], x0=40, width=250, top=100)
    tail = bold(line("南日报记者 刘燕娟", 40, 100 + PITCH))
    head = [line("下一篇的标题", 40, 160, size=20)]
    body = col_lines(["下一篇正文"], x0=40, width=250, top=200)
    text = to_text([head + body + [tail] + text_lines], [PAGE[1]])
    assert text.split("\n\n")[:2] == ["省领导参加有关活动。 ■湖南日报记者 刘燕娟", "# 下一篇的标题"]


def test_a_bold_first_line_that_fills_the_measure_is_a_heading() -> None:
    head = bold(col_lines(["一个正好排满一行的粗体标题"], x0=40, width=250, top=100)[0])
    body = col_lines(["央视网消息：正文第一行", "正文第二行。"], x0=40, width=250, top=100 + PITCH)
    assert (
        to_text([[head, *body]], [PAGE[1]]).split("\n\n")[1] == "央视网消息：正文第一行正文第二行。"
    )


def test_a_line_cut_short_mid_sentence_runs_on() -> None:
    # A line breaker kept "的“" together and moved it on: the line ends two characters
    # short of the measure, mid-sentence.
    lines = col_lines(["第一行排满了。"] * 2, x0=40, width=250, top=100)
    short = TextLine("处处是鲜明", 40, 100 + 2 * PITCH, 270, 110 + 2 * PITCH, BODY)
    rest = TextLine("的“红色元素”。", 40, 100 + 3 * PITCH, 140, 110 + 3 * PITCH, BODY)
    assert to_text([[*lines, short, rest]], [PAGE[1]]).endswith("处处是鲜明的“红色元素”。")


def test_a_repeated_margin_line_beside_text_is_not_a_running_head() -> None:
    # The top row of a page: a story's date line (the same on every page but its digits)
    # beside the column text of that row.
    pages = []
    for n in range(3):
        stamp = line(f"（发布时间：2017-02-01 19:{10 + n}:", 310, 40, page=n, width=250)
        left = col_lines([f"左栏{'甲乙丙'[n]}"], x0=40, width=250, top=40, page=n)
        pages.append([stamp, *left])
    text = to_text(pages, [PAGE[1]] * 3)
    assert text.count("发布时间") == 3


def test_a_section_title_at_a_column_foot_is_read_before_the_next_story() -> None:
    # Column two of a page-top section ends in a section title; the next story is set in
    # columns of its own under white space, its second column starting above its headline.
    left = col_lines(["摘要一", "摘要二", "摘要三"], x0=40, width=250, top=100)
    title = line("详细新闻", 310, 100 + PITCH, size=14)
    right = [*col_lines(["摘要四"], x0=310, width=250, top=100), title]
    story_right = col_lines(["故事右栏"], x0=310, width=250, top=180)
    story_head = [line("故事标题", 40, 186, size=12)]
    story_left = col_lines(["故事左栏"], x0=40, width=250, top=186 + 20)
    text = to_text([story_right + story_head + story_left + left + right], [PAGE[1]])
    assert text.index("详细新闻") < text.index("故事标题") < text.index("故事右栏")
