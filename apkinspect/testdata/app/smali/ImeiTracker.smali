.class public Lcom/umeng/commonsdk/statistics/idtracking/ImeiTracker;
.super Ljava/lang/Object;

.method public static imei(Landroid/content/Context;)Ljava/lang/String;
    .registers 3
    const-string v0, "phone"
    invoke-virtual {p0, v0}, Landroid/content/Context;->getSystemService(Ljava/lang/String;)Ljava/lang/Object;
    move-result-object v0
    check-cast v0, Landroid/telephony/TelephonyManager;
    invoke-virtual {v0}, Landroid/telephony/TelephonyManager;->getDeviceId()Ljava/lang/String;
    move-result-object v1
    invoke-virtual {v0}, Landroid/telephony/TelephonyManager;->getDeviceId()Ljava/lang/String;
    const-string v0, "https://ulogs.umeng.com/unify_logs"
    return-object v1
.end method
