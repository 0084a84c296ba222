package xls

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// jxlWriter writes a workbook the way PrivacySentry does with JExcelApi (jxl 2.6.12, its
// dependency): initExcel creates the sheets 隐私合规 and 调用次数 with a header row (the file
// path first, then overwritten by the column titles) in bold bordered formats; then
// writeObjListToExcel reopens the file, copies it with Workbook.createWorkbook(file, workbook)
// and appends one Label per cell, stacks joined with "\n". A third sheet holds jxl's typed
// cells (Number, Boolean), which PrivacySentry does not write, for coverage.
const jxlWriter = `
import java.io.File;
import jxl.Workbook;
import jxl.format.Alignment;
import jxl.format.Border;
import jxl.format.BorderLineStyle;
import jxl.format.Colour;
import jxl.write.*;

public class PrivacySentryXls {
    static String stack(int r) {
        StringBuilder b = new StringBuilder();
        int target = r == 7 ? 20000 : 1024 + (r * 37) % 2048;
        while (b.length() < target) {
            b.append("com.umeng.commonsdk.statistics.idtracking.ImeiTracker.f(ImeiTracker.java:").append(b.length()).append(")\n");
            if (r % 3 == 0) b.append("获取设备标识 调用位置\n");
        }
        return b.substring(0, target);
    }
    public static void main(String[] a) throws Exception {
        File f = new File(a[0]);
        int n = Integer.parseInt(a[1]);
        WritableCellFormat head = new WritableCellFormat(new WritableFont(WritableFont.ARIAL, 10, WritableFont.BOLD));
        head.setAlignment(Alignment.CENTRE);
        head.setBorder(Border.ALL, BorderLineStyle.THIN);
        head.setBackground(Colour.GRAY_25);
        WritableCellFormat body = new WritableCellFormat(new WritableFont(WritableFont.ARIAL, 10));
        body.setBorder(Border.ALL, BorderLineStyle.THIN);
        String[] names = {"隐私合规", "调用次数"};
        String[][] titles = {{"调用时间(倒序排序)", "别名", "函数名", "调用堆栈"}, {"别名", "函数名", "调用堆栈", "调用次数"}};
        WritableWorkbook wb = Workbook.createWorkbook(f);
        for (int s = 0; s < 2; s++) {
            WritableSheet sh = wb.createSheet(names[s], s);
            sh.addCell(new Label(0, 0, a[0], head));
            for (int c = 0; c < 4; c++) sh.addCell(new Label(c, 0, titles[s][c], head));
            sh.setRowView(0, 340);
        }
        wb.write();
        wb.close();
        Workbook in = Workbook.getWorkbook(f);
        WritableWorkbook out = Workbook.createWorkbook(f, in);
        for (int s = 0; s < 2; s++) {
            WritableSheet sh = out.getSheet(s);
            for (int r = 1; r <= n; r++) {
                String[] row = s == 0
                    ? new String[]{"2024-05-20 10:00:" + (r % 60), "读取IMEI", "getImei", stack(r)}
                    : new String[]{"读取IMEI", "getImei", stack(r), String.valueOf(r % 9 + 1)};
                for (int c = 0; c < row.length; c++) sh.addCell(new Label(c, r, row[c], body));
                sh.setRowView(r, 500);
            }
        }
        WritableSheet t = out.createSheet("types", 2);
        double[] nums = {3, 0.1, -2.5, 1e20, 123456789, 1.0 / 3, 1e-7};
        for (int i = 0; i < nums.length; i++) t.addCell(new jxl.write.Number(i, 0, nums[i]));
        t.addCell(new jxl.write.Boolean(0, 1, true));
        t.addCell(new jxl.write.Boolean(1, 1, false));
        t.addCell(new Label(3, 2, "ASCII only"));
        out.write();
        out.close();
        in.close();
    }
}
`

// jxlJar is where Debian's libjexcelapi-java installs JExcelApi.
const jxlJar = "/usr/share/java/jxl.jar"

func TestPrivacySentryJXLAgainstXLRD(t *testing.T) {
	java, err := exec.LookPath("java")
	if err != nil {
		t.Skip("java not installed (Debian: default-jdk-headless)")
	}
	if _, err := os.Stat(jxlJar); err != nil {
		t.Skip("JExcelApi not installed (Debian: libjexcelapi-java)")
	}
	py := python(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "PrivacySentryXls.java")
	if err := os.WriteFile(src, []byte(jxlWriter), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "privacysentry.xls")
	// Java 11+ runs a single source file directly; a JRE without the compiler cannot.
	if out, err := exec.Command(java, "-cp", jxlJar, src, path, "400").CombinedOutput(); err != nil {
		t.Fatalf("jxl: %v: %s", err, out)
	}
	cells := compareWithXLRD(t, py, path)
	data, _ := os.ReadFile(path)
	sheets, rows := readAll(t, data, Limits{})
	if !slices.Equal(sheets, []string{"隐私合规", "调用次数", "types"}) {
		t.Fatalf("sheets %q", sheets)
	}
	if got := rows["隐私合规"][0].Cells; !slices.Equal(got, []string{"调用时间(倒序排序)", "别名", "函数名", "调用堆栈"}) {
		t.Fatalf("header %q", got)
	}
	if n := len(rows["调用次数"]); n != 401 {
		t.Fatalf("调用次数 has %d rows, want 401", n)
	}
	if got := len([]rune(rows["隐私合规"][7].Cells[3])); got != 20000 {
		t.Fatalf("the 20,000-character stack came out as %d characters", got)
	}
	t.Logf("%d bytes, %d cells equal to xlrd's", len(data), cells)
}
