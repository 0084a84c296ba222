.class public Lorg/pilmon/test/Widths;
.super Ljava/lang/Object;

# Exercises every instruction width the walker must get right, payloads included, with
# references after each payload so a desynchronised walk would lose or invent them.

.field public count:I
.field public static NAME:Ljava/lang/String;

.method public constructor <init>()V
    .registers 1
    invoke-direct {p0}, Ljava/lang/Object;-><init>()V
    return-void
.end method

.method public static deviceId(Landroid/content/Context;)Ljava/lang/String;
    .registers 4
    const-string v0, "phone"
    invoke-virtual {p0, v0}, Landroid/content/Context;->getSystemService(Ljava/lang/String;)Ljava/lang/Object;
    move-result-object v0
    check-cast v0, Landroid/telephony/TelephonyManager;
    invoke-virtual {v0}, Landroid/telephony/TelephonyManager;->getDeviceId()Ljava/lang/String;
    move-result-object v1
    return-object v1
.end method

.method public switches(I)I
    .registers 8
    const-wide v0, 0x123456789abcdefL
    const-wide/32 v2, 0x12345678
    const v4, 0x7fffffff
    packed-switch p1, :pswitch
    sparse-switch p1, :sswitch
    const/4 v5, 3
    new-array v5, v5, [I
    fill-array-data v5, :arr
    const-string/jumbo v6, "https://api.example.cn/v1/collect?imei="
    sget-object v6, Lorg/pilmon/test/Widths;->NAME:Ljava/lang/String;
    iget v5, p0, Lorg/pilmon/test/Widths;->count:I
    invoke-static/range {v0 .. v5}, Lorg/pilmon/test/Widths;->six(JJII)V
    goto/32 :end
    :p0
    const/4 v5, 0
    goto :end
    :p1
    const/16 v5, 100
    goto/16 :end
    :end
    invoke-static {}, Lorg/pilmon/test/Widths;->after()V
    return v5

    :pswitch
    .packed-switch 0x1
        :p0
        :p1
        :p0
    .end packed-switch

    :sswitch
    .sparse-switch
        0x5 -> :p0
        0x3e8 -> :p1
        0x7fffffff -> :p0
    .end sparse-switch

    :arr
    .array-data 4
        0x1
        0x2
        0x3
    .end array-data
.end method

.method public static six(JJII)V
    .registers 6
    const-string v0, "隐私政策 privacy \u0000 nul 😀"
    invoke-static {v0}, Lorg/pilmon/test/Widths;->log(Ljava/lang/String;)V
    return-void
.end method

.method public static log(Ljava/lang/String;)V
    .registers 1
    return-void
.end method

.method public static after()V
    .registers 3
    const-wide/high16 v0, 0x4000000000000000L
    const/high16 v2, 0x41200000
    invoke-static {}, Ljava/lang/System;->currentTimeMillis()J
    return-void
.end method

.method public static handle(Ljava/lang/invoke/MethodHandle;)V
    .registers 3
    const-string v0, "x"
    invoke-polymorphic {p0, v0}, Ljava/lang/invoke/MethodHandle;->invoke([Ljava/lang/Object;)Ljava/lang/Object;, (Ljava/lang/String;)V
    invoke-polymorphic/range {p0 .. p0}, Ljava/lang/invoke/MethodHandle;->invokeExact([Ljava/lang/Object;)Ljava/lang/Object;, ()V
    invoke-static {}, Lorg/pilmon/test/Widths;->after()V
    return-void
.end method
