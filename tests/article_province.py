"""A fictional province (Sông Lam, hư cấu) whose paper reports reproduce the article's figures:
94,8% essays at province and district level, 92,7% at grassroots level, 100% sessions and
action programmes, "trên 90%" action plans, every paper dated before 30/9/2016."""

from __future__ import annotations

from pathlib import Path

UNITS = """code,name,level,parent_code,members
SL,Tỉnh ủy Sông Lam (hư cấu),tinh,,40
SL-H1,Huyện ủy Nam Đàn Xanh,huyen,SL,110
SL-H2,Thành ủy Bến Thủy,huyen,SL,100
SL-C1,Đảng bộ xã Hưng Lộc,co_so,SL-H1,150
SL-C2,Đảng bộ phường Trung Đô,co_so,SL-H2,150
SL-C1-B1,Chi bộ xóm Đông,chi_bo,SL-C1,20
"""

# STT and Ghi chú are for people and ignored; unit codes in any case; Ngày báo cáo on the paper.
SESSIONS = (
    "STT,Mã đơn vị,session_date,duration_halfdays,members,attended,presenter,Báo cáo viên là,"
    "essays,Ngày báo cáo,Ghi chú\n"
    """1,SL,2/6/2016,2,40,40,Đồng chí Bí thư Tỉnh ủy,"Bí thư, phó bí thư",38,3/6/2016,
2,sl-h1,5/7/2016,2,110,110,Báo cáo viên cấp tỉnh,"Báo cáo viên cấp tỉnh/cấp huyện",104,6/7/2016,
3,SL-H2,8/7/2016,2,100,100,Báo cáo viên cấp tỉnh,"Báo cáo viên cấp tỉnh/cấp huyện",95,9/7/2016,
4,SL-C1,10/8/2016,2,150,150,Báo cáo viên cấp huyện,"Báo cáo viên cấp tỉnh/cấp huyện",139,11/8/2016,
5,SL-C2,12/8/2016,1,150,150,Bí thư đảng bộ,"Khác",139,13/8/2016,học một buổi
6,SL-C1-B1,15/8/2016,2,20,20,Bí thư chi bộ,"Bí thư, phó bí thư",15,16/8/2016,
"""
)

PROGRAMS = """STT,Mã đơn vị,action_program,action_program_date,Ngày báo cáo
1,SL,có,20/9/2016,21/9/2016
2,SL-H1,có,20/9/2016,21/9/2016
3,SL-H2,có,22/9/2016,23/9/2016
4,SL-C1,có,25/9/2016,26/9/2016
5,SL-C2,có,26/9/2016,27/9/2016
6,SL-C1-B1,có,26/9/2016,27/9/2016
"""

# 57 of 62 heads have a plan ("trên 90%"); two of the five committees are short of some: "một
# số đảng bộ" (a minority; three of five would be written "3/5 đơn vị (60,0%)").
PLANS = """Mã đơn vị,heads,heads_with_plan,Ngày báo cáo
SL,10,10,28/9/2016
SL-H1,22,18,28/9/2016
SL-H2,20,20,29/9/2016
SL-C1,5,5,29/9/2016
SL-C2,5,4,29/9/2016
"""


def write_files(folder: Path) -> dict[str, Path]:
    files = {
        "units": UNITS,
        "hoi_nghi": SESSIONS,
        "chuong_trinh": PROGRAMS,
        "ke_hoach": PLANS,
    }
    out = {}
    for name, text in files.items():
        path = folder / f"{name}.csv"
        path.write_text(text, encoding="utf-8")
        out[name] = path
    return out
